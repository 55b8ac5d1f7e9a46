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
            let next: String?
        }

        func run() async throws {
            _ = global.logger()
            let config = try global.loadConfig()
            let format = DateFormatter()
            format.locale = Locale(identifier: "en_US_POSIX")
            format.dateFormat = "yyyy-MM-dd'T'HH:mm:ssxxx"
            let rows = try JobLoader(config: config).loadAll().map { job -> Row in
                format.timeZone = job.timeZone
                let next = job.schedule?.nextFireTimes(after: Date(), count: 1, timeZone: job.timeZone).first.map { format.string(from: $0) }
                return Row(name: job.name, schedule: job.schedule?.source, timezone: job.timeZoneName,
                           steps: job.steps.map { type(of: $0).name }, file: job.file, next: next)
            }
            if json { print(try jsonString(rows)); return }
            for r in rows {
                print("\(r.name.padding(toLength: 24, withPad: " ", startingAt: 0)) \((r.schedule ?? "on demand").padding(toLength: 22, withPad: " ", startingAt: 0)) \(r.timezone.padding(toLength: 8, withPad: " ", startingAt: 0)) next \((r.next ?? "-").padding(toLength: 25, withPad: " ", startingAt: 0)) \(r.steps.joined(separator: " → "))")
            }
        }
    }
}
