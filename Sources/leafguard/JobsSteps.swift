import ArgumentParser
import LeafJobs

extension Leafguard.Jobs {
    /// `leafguard jobs steps`: the step vocabulary.
    struct Steps: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the steps a job file may use, with their parameters.")

        func run() throws {
            for s in stepCatalog { print("\(s.name.padding(toLength: 14, withPad: " ", startingAt: 0)) \(s.summary)") }
        }
    }
}
