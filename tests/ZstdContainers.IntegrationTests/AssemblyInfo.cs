// The integration tests drive containerd, podman and Linux images; they run on Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
