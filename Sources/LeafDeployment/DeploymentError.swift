import Foundation

/// What can go wrong opening or changing a deployment, each case with the facts a message
/// needs. The text is the command's error line, so it names the file or region to fix.
public enum DeploymentError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A command or job named a region the configuration does not define.
    case unknownRegion(String, file: String, defined: [String])
    /// An S3 region name that does not make an endpoint URL.
    case noEndpoint(region: String, s3Region: String, file: String)
    /// The keyring could not be stored in every location of a region (one line per location).
    case keyringNotStored(region: String, problems: [String])
    /// A copy written and read back was not the bytes written.
    case readBackDiffers
    /// `init` found a repository already in a region; nothing was written.
    case alreadyInitialized(region: String, location: String)
    /// The state folder names a repository that no region holds (every region lost?).
    case repositoryLost(idFile: String)
    /// A state file could not be written.
    case cannotWrite(path: String, reason: String)

    /// The error in words for an operator, naming the file or region to fix.
    public var description: String {
        switch self {
        case .unknownRegion(let name, let file, let defined):
            return "region '\(name)' is not in \(file); defined: \(defined.joined(separator: ", "))"
        case .noEndpoint(let region, let s3Region, let file):
            return "region '\(region)': S3 region '\(s3Region)' does not make an endpoint URL; check it in \(file)"
        case .keyringNotStored(let region, let problems):
            return "cannot store the keyring in region '\(region)': \(problems.joined(separator: "; "))"
        case .readBackDiffers:
            return "the copy read back differs"
        case .alreadyInitialized(let region, let location):
            return "region '\(region)' already holds a repository (\(location)/config); nothing was written"
        case .repositoryLost(let idFile):
            return
                "the state folder knows a repository (\(idFile)) that no region holds; if every region was lost, 'leafguard init --force' starts a new, empty one"
        case .cannotWrite(let path, let reason):
            return "cannot write \(path): \(reason)"
        }
    }
}
