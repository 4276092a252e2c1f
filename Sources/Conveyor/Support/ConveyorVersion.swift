/// The release of Conveyor this build is, as `conveyor --version` prints it.
public enum ConveyorVersion {
    /// Semantic version (semver.org) of this build.
    public static let current = "0.9.0"
}
