import ArgumentParser
import Foundation
import LeafConfig
import LeafJobs

extension Leafguard.Jobs {
    /// `leafguard jobs list [--json]`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List jobs with their schedules and steps.")

        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        struct Row: Encodable {
            let name: String
            let schedule: String?
            let timezone: String
            let steps: [String]
            let file: String
        }

        func run() async throws {
            _ = global.logger()
            let config = try global.loadConfig()
            let rows = try JobLoader(config: config).loadAll().map {
                Row(name: $0.name, schedule: $0.schedule?.source, timezone: $0.timeZone.identifier,
                    steps: $0.steps.map { type(of: $0).name }, file: $0.file)
            }
            if json { print(try jsonString(rows)); return }
            for r in rows {
                print("\(r.name.padding(toLength: 24, withPad: " ", startingAt: 0)) \((r.schedule ?? "on demand").padding(toLength: 22, withPad: " ", startingAt: 0)) \(r.timezone.padding(toLength: 8, withPad: " ", startingAt: 0)) \(r.steps.joined(separator: " → "))")
            }
        }
    }
}
