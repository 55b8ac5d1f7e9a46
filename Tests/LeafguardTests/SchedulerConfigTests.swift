import Foundation
import LeafConfig
import LeafJobs
import LeafTestSupport
import Testing

/// The scheduling keys of a job file: read, and rejected with a located reason.
@Suite struct SchedulerConfigTests {
    func load(_ files: [String: String]) throws -> [JobDefinition] {
        let f = try ConfigFixture()
        for (name, text) in files { try f.job(name, text) }
        return try JobLoader(config: try f.load()).loadAll()
    }

    @Test func policiesAndHooksAreRead() throws {
        let jobs = try load([
            "a.yml": """
            name: a
            schedule: "@daily"
            concurrency: replace
            catch_up: none
            starting_deadline: 2h
            timeout: 30m
            retries: 3
            retry_backoff: 5m
            on_failure:
              - {command: "page-oncall", timeout: 5s}
              - url: https://hc-ping.com/abc/fail
            on_success: {url: "https://hc-ping.com/abc"}
            steps: [backup]
            """, "b.yml": "name: b\nafter: a\nsteps: [backup]\n",
        ])
        let a = try #require(jobs.first { $0.name == "a" })
        #expect(a.policy.concurrency == .replace && a.policy.catchUp == CatchUpPolicy.none)
        #expect(a.policy.startingDeadline == 7200 && a.policy.timeout == 1800 && a.policy.retries == 3 && a.policy.retryBackoff == 300)
        #expect(a.onFailure == [Hook(action: .command("page-oncall"), timeout: 5), Hook(action: .url(URL(string: "https://hc-ping.com/abc/fail")!))])
        #expect(a.onSuccess.count == 1)
        #expect(jobs.first { $0.name == "b" }?.policy.after == ["a"])
        // Defaults: forbid, latest, no deadline, no timeout, no retries.
        let defaults = RunPolicy()
        #expect(defaults.concurrency == .forbid && defaults.catchUp == .latest && defaults.timeout == nil && defaults.retries == 0)
    }

    @Test(arguments: [
        ("concurrency: sometimes\n", "a.yml:2:14", "sometimes"),
        ("catch_up: all\n", "a.yml:2:11", "all"),
        ("timeout: soon\n", "a.yml:2:10", "'soon' is not a duration"),
        ("starting_deadline: -1h\n", "a.yml:2:20", "is not a duration"),
        ("retries: 99\n", "a.yml:2:10", "99"),
        ("on_failure: {url: \"ftp://x\"}\n", "a.yml:2:13", "not an http or https URL"),
        ("on_failure: {command: x, url: \"https://x\"}\n", "a.yml:2:13", "either 'command: …' or 'url: …'"),
        ("on_success: {comand: x}\n", "a.yml:2:14", "comand"),
        ("after: [nosuchjob]\n", "a.yml", "'after' names 'nosuchjob', which is not a job"),
    ])
    func badSchedulingKeysAreLocated(line: String, location: String, message: String) throws {
        let found = problems { _ = try load(["a.yml": "name: a\n\(line)steps: [backup]\n"]) }
        #expect(found.contains { $0.contains(location) && $0.contains(message) }, "\(found)")
    }

    @Test func jobsWaitingForEachOtherInACycleAreRejected() throws {
        let found = problems {
            _ = try load([
                "a.yml": "name: a\nafter: [b]\nsteps: [backup]\n", "b.yml": "name: b\nafter: [a]\nsteps: [backup]\n",
                "c.yml": "name: c\nafter: [c]\nsteps: [backup]\n",
            ])
        }
        #expect(found.contains { $0.contains("cycle") && $0.contains("a → b → a") || $0.contains("b → a → b") }, "\(found)")
        #expect(found.contains { $0.contains("cannot run after itself") }, "\(found)")
    }
}
