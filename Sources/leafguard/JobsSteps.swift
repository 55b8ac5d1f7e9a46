import ArgumentParser
import LeafJobs

extension Leafguard.Jobs {
    /// `leafguard jobs steps`: the step vocabulary.
    struct Steps: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the steps a job file may use, with their parameters.")

        func run() async throws {
            for s in stepCatalog { print("\(s.name.padding(toLength: 14, withPad: " ", startingAt: 0)) \(s.summary)") }
        }
    }
}
