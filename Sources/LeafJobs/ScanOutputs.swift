import Foundation
import LeafCompliance
import LeafConfig

/// The files a compliance scan leaves in its output folder: the formats asked for and the
/// evidence manifest. One place for the `scan` step and the `leafguard scan` command.
public enum ScanOutputs {
    /// Writes `compliance.FORMAT` for each of `formats` into `directory`, then
    /// `manifest.json`; returns the paths written, the manifest last. The previous scan's
    /// summary (for the HTML trend) is read before anything is replaced.
    public static func write(_ report: ComplianceReport, formats: [String], to directory: String, config: LeafguardConfig) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let previous = ComplianceOutput.previous(in: directory)
        // The formats are written at once, each on its own thread: the JSON and CSV of a
        // million-user scan take a second or more each.
        let wanted = formats.filter { ["json", "csv", "html", "md"].contains($0) }
        let results = WriteResults(count: wanted.count)
        let shared = SharedReport(report, previous)
        DispatchQueue.concurrentPerform(iterations: wanted.count) { i in
            let path = directory + "/compliance.\(wanted[i])"
            do {
                switch wanted[i] {
                case "json":
                    let sink = try ReportSink(file: path)
                    try ComplianceOutput.writeJSON(shared.report, to: sink)
                    try sink.finish()
                case "csv":
                    let sink = try ReportSink(file: path)
                    try ComplianceOutput.writeCSV(shared.report, to: sink)
                    try sink.finish()
                case "html": try ComplianceOutput.html(shared.report, previous: shared.previous).write(toFile: path, atomically: true, encoding: .utf8)
                default: try ComplianceOutput.markdown(shared.report).write(toFile: path, atomically: true, encoding: .utf8)
                }
            } catch { results.fail(i, error) }
        }
        if let error = results.firstError { throw error }
        var written = wanted.map { directory + "/compliance.\($0)" }
        written.append(try EvidenceManifest.write(report: report, config: config, outputs: written, to: directory))
        return written
    }
}

/// The report, read by the writer threads (never changed while they run).
private final class SharedReport: @unchecked Sendable {
    let report: ComplianceReport
    let previous: ComplianceReport?
    init(_ report: ComplianceReport, _ previous: ComplianceReport?) { self.report = report; self.previous = previous }
}

private final class WriteResults: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [(any Error)?]
    init(count: Int) { errors = Array(repeating: nil, count: count) }
    func fail(_ i: Int, _ e: any Error) { lock.lock(); errors[i] = e; lock.unlock() }
    var firstError: (any Error)? { lock.lock(); defer { lock.unlock() }; return errors.compactMap { $0 }.first }
}
