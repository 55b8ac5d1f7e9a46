import ArgumentParser

extension Leafguard {
    /// `leafguard jobs …`: job files.
    struct Jobs: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate and list jobs.",
            subcommands: [Validate.self, List.self, Steps.self])
    }
}
