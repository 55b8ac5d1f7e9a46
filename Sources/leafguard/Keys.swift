import ArgumentParser
import Foundation
import LeafConfig
import LeafKeys

extension Leafguard {
    /// `leafguard keys …`.
    struct Keys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Master keys.", subcommands: [Init.self])
    }
}

extension Leafguard.Keys {
    /// `leafguard keys init [FILE]`: a new random master key file, mode 0600.
    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a random 32-byte master key file with mode 0600; never overwrites one.")

        @Argument(help: "Path of the new key file.") var file: String

        func run() async throws {
            let path = absolute(file, relativeTo: FileManager.default.currentDirectoryPath)
            do { try MasterKeySource.createKeyFile(at: path) } catch let e as KeyError { throw CommandFailure(e.message) }
            print("created \(path) (mode 0600). Keep a copy offline: without it no backup can be restored.")
        }
    }
}
