// The tests build real Linux layers (Unix modes, execute bits); they run where images run.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
