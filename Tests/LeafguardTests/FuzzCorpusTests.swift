import Foundation
import LeafTestSupport
import Testing

/// The fuzz targets (Fuzz/Targets) stay buildable and total on every test run: a small demo
/// deployment's real objects are written as seeds by `leafguard-fuzz seed`, then every
/// target replays its seeds and every input in Fuzz/regressions (each once a crash of
/// issue 16 or of a fuzzing run). `make fuzz` runs the same targets under libFuzzer.
@Suite struct FuzzCorpusTests {
    var fuzzExecutable: String { (leafguardExecutable as NSString).deletingLastPathComponent + "/leafguard-fuzz" }

    @Test func everyTargetReplaysItsSeedsAndEveryRegressionInput() throws {
        let dir = TemporaryDirectory()
        let demo = try leafguard(["demo", "--dir", dir.file("deployment"), "--accounts", "1"])
        #expect(demo.status == 0, "\(demo.all)")
        let seed = try runCommand(fuzzExecutable, ["seed", dir.file("deployment"), dir.file("seeds")])
        #expect(seed.status == 0, "\(seed.all)")
        let targets = try runCommand(fuzzExecutable, ["list"]).stdout.split(separator: "\n").map(String.init)
        #expect(targets.count >= 16, "\(targets)")
        let documented = try String(contentsOfFile: packageRoot + "/docs/fuzzing.md", encoding: .utf8)
        for target in targets {
            #expect(documented.contains("`\(target)`"), "docs/fuzzing.md describes target \(target)")
            let seeds = dir.file("seeds/\(target)")
            #expect(FileManager.default.fileExists(atPath: seeds), "no seed for \(target)")
            let regressions = packageRoot + "/Fuzz/regressions/\(target)"
            let r = try runCommand(fuzzExecutable, [target, seeds, regressions], environment: ["SWIFT_BACKTRACE": "enable=no"])
            #expect(r.status == 0 && r.stdout.contains("replayed"), "\(target): \(r.all)")
        }
        // Every regression folder belongs to a target.
        for folder in (try? FileManager.default.contentsOfDirectory(atPath: packageRoot + "/Fuzz/regressions")) ?? [] {
            #expect(targets.contains(folder), "Fuzz/regressions/\(folder) names no target")
        }
    }
}
