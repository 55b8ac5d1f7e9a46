import Foundation
import LeafCompliance
import LeafConcurrency
import LeafConfig
import LeafFiles

/// A format a compliance scan's findings are written in (`compliance.FORMAT`).
public enum ScanFormat: String, Sendable, CaseIterable {
    case json, csv, html, md
}

/// The files a compliance scan leaves in its output folder: the formats asked for and the
/// evidence manifest. One place for the `scan` step and the `leafguard scan` command.
public enum ScanOutputs {
    /// Keeps the scan's unexcepted findings per severity for the metrics file (every
    /// severity present, 0 when none).
    public static func learn(_ report: ComplianceReport, _ layout: StateLayout) {
        var counts = Dictionary(uniqueKeysWithValues: Severity.allCases.map { ($0.rawValue, 0) })
        for f in report.findings { counts[f.severity.rawValue, default: 0] += 1 }
        MetricsFacts.update(layout) { $0.compliance = counts }
    }

    /// Writes `compliance.FORMAT` for each of `formats` into `directory`, then
    /// `manifest.json`; returns the paths written, the manifest last. The previous scan's
    /// summary (for the HTML trend) is read before anything is replaced.
    /// The folder is opened as an `OutputFolder`: a link there is refused, and every file is
    /// new (O_EXCL|O_NOFOLLOW, 0600) before it is renamed over its name, so a file another
    /// user planted in a shared folder never receives the findings.
    public static func write(_ report: ComplianceReport, formats: [ScanFormat], to path: String, config: LeafguardConfig) throws -> [String] {
        let folder = try OutputFolder(path)
        let directory = folder.path
        let previous = ComplianceOutput.previous(in: directory)
        // The formats are written at once, each on its own thread: the JSON and CSV of a
        // million-user scan take a second or more each.
        let wanted = ScanFormat.allCases.filter(formats.contains)
        let errors = Locked<[Int: any Error]>([:])
        parallelForEach(wanted.count, width: wanted.count) { i in
            let name = "compliance.\(wanted[i].rawValue)"
            do {
                switch wanted[i] {
                case .json:
                    let sink = try ReportSink(folder: folder, name: name)
                    try ComplianceOutput.writeJSON(report, to: sink)
                    try sink.finish()
                case .csv:
                    let sink = try ReportSink(folder: folder, name: name)
                    try ComplianceOutput.writeCSV(report, to: sink)
                    try sink.finish()
                case .html: try folder.write(name, text: ComplianceOutput.html(report, previous: previous))
                case .md: try folder.write(name, text: ComplianceOutput.markdown(report))
                }
            } catch { errors.withLock { $0[i] = error } }
        }
        if let first = errors.value.min(by: { $0.key < $1.key }) { throw first.value }
        var written = wanted.map { directory + "/compliance.\($0.rawValue)" }
        written.append(try EvidenceManifest.write(report: report, config: config, outputs: written, to: folder))
        return written
    }
}
