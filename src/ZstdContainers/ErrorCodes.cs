namespace ZstdContainers;

/// <summary>Every ZSTDC code in one place, so codes are never reused for different failures.</summary>
public static class ErrorCodes
{
    // 1xxx: settings and input
    public const string InvalidCompression = "ZSTDC1001";
    public const string InvalidCompressionLevel = "ZSTDC1002";
    public const string InvalidRecompressSetting = "ZSTDC1003";
    public const string PublishDirectoryMissing = "ZSTDC1005";
    public const string DockerImageFormatWithZstd = "ZSTDC1006";
    public const string InvalidAppCommandInstruction = "ZSTDC1007";
    public const string InvalidPort = "ZSTDC1008";
    public const string ArchivePathNotWritable = "ZSTDC1009";
    public const string InvalidLocalRegistry = "ZSTDC1010";
    public const string InvalidSourceDateEpoch = "ZSTDC1011";
    public const string EntrypointArgsWithoutEntrypoint = "ZSTDC1012";
    public const string AppCommandArgsWithoutAppCommand = "ZSTDC1013";
    public const string AppCommandWithInstructionNone = "ZSTDC1014";
    public const string EntrypointWithInstructionEntrypoint = "ZSTDC1015";
    public const string BaseEntrypointOverwritten = "ZSTDC1016"; // a warning
    public const string InvalidBaseConfig = "ZSTDC1017";
    public const string SettingsNotHandedOff = "ZSTDC1018"; // an image task ran without the settings our targets hand it
    public const string EntrypointPathCorrected = "ZSTDC1019"; // a warning: the SDK's missing '/' restored
    public const string EntrypointFileMissing = "ZSTDC1020"; // a warning: the image will not start
    public const string InvalidCustomLayer = "ZSTDC1021";
    public const string PublishFileChanged = "ZSTDC1022"; // a file changed size or vanished while the app layer was written
    public const string PublishFileNameNotUtf8 = "ZSTDC1023";
    public const string PublishSpecialFileSkipped = "ZSTDC1024"; // a warning: a FIFO, socket or device file is not put in the layer
    public const string InvalidLayerSplit = "ZSTDC1050"; // the layer split setting is neither true nor false

    // 1030-1049: the SDK's task contract (issue 10)
    public const string InvalidAnnotationScope = "ZSTDC1030";
    public const string UnsupportedLocalRegistry = "ZSTDC1031"; // Wslc, MacOSContainer
    public const string UnsupportedBaseImageSource = "ZSTDC1032";
    public const string SdkTaskContractChanged = "ZSTDC1033"; // the preflight: the SDK's image tasks take inputs ours do not
    public const string MissingTaskParameter = "ZSTDC1034";
    public const string WindowsImageNotSupported = "ZSTDC1035";
    public const string NeedsDotnetMSBuild = "ZSTDC1036"; // raised by the targets: MSBuild on .NET Framework (Visual Studio)

    // 6xxx: what nobody expected
    public const string UnexpectedFailure = "ZSTDC6001"; // a bug: one line asking for a report, the stack at -v:detailed
    public const string InvalidImageDocument = "ZSTDC6002"; // an index, manifest or config that is not what the spec says

    // 2xxx: base image
    public const string BaseImageNotFound = "ZSTDC2001";
    public const string PlatformNotInBaseImage = "ZSTDC2002";
    public const string UnsupportedBaseLayer = "ZSTDC2003";
    public const string BaseLayerDiffIdMismatch = "ZSTDC2004";
    public const string UnsupportedManifest = "ZSTDC2005";
    public const string BaseLayerCorrupt = "ZSTDC2006"; // gzip undecodable or source bytes not matching their digest
    public const string LayerNotChunkable = "ZSTDC2007"; // a tar entry the zstd:chunked table of contents cannot describe

    // 3xxx: registry
    public const string RegistryUnreachable = "ZSTDC3001";
    public const string AuthenticationFailed = "ZSTDC3002";
    public const string RegistryError = "ZSTDC3003";
    public const string TlsFailure = "ZSTDC3004";
    public const string DigestMismatch = "ZSTDC3005";
    public const string RegistryTimeout = "ZSTDC3006";
    public const string CredentialHelperFailed = "ZSTDC3007";
    public const string UploadContentInvalid = "ZSTDC3008";
    public const string InsecureSchemeDowngrade = "ZSTDC3009"; // an upload location or redirect from https to http
    public const string UntrustedAuthChallenge = "ZSTDC3010"; // a 401 challenge from a host that is not the registry
    public const string UnsafeTokenRealm = "ZSTDC3011"; // a token service that would get credentials in clear or on loopback
    public const string BlobLargerThanDescriptor = "ZSTDC3012"; // a blob stream longer than its descriptor's size
    public const string TagsPartiallyMoved = "ZSTDC3013"; // some tags moved before a later tag PUT failed

    // 4xxx: destinations
    public const string LocalDaemonUnavailable = "ZSTDC4001";
    public const string LocalDaemonLoadFailed = "ZSTDC4002";
    public const string ArchiveBlobMismatch = "ZSTDC4003";
    public const string LocalDaemonTooOld = "ZSTDC4004";

    // 5xxx: cache and I/O
    public const string CacheUnusable = "ZSTDC5001";
    public const string CacheEntryCorrupt = "ZSTDC5002"; // a warning: the entry is deleted and rebuilt
    public const string CacheNotPrivate = "ZSTDC5003"; // the cache folder belongs to another user or others can write it
    public const string InvalidBaseCompressionLevel = "ZSTDC5004"; // the base layer zstd level is not 1-22
    public const string InvalidLayerCacheFrom = "ZSTDC5005"; // an image named as a registry layer cache is not an image reference

    // 7xxx: reporting (the publish report, CI summaries, progress)
    public const string ReportNotWritten = "ZSTDC7001"; // a warning: the image is published, its report file is not
    public const string StepSummaryNotWritten = "ZSTDC7002"; // a warning: GITHUB_STEP_SUMMARY could not be appended to
}
