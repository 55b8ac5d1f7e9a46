import Foundation

/// Decides whether a blob is worth sending through zstd. Formats that are compressed
/// already (PDF streams, JPEG, PNG, Office zip files, archives, video) are stored as they
/// are; anything else is sampled, and high-entropy data is stored too.
enum Compressibility {
    static let storedExtensions: Set<String> = [
        "pdf", "jpg", "jpeg", "png", "gif", "webp", "heic", "zip", "docx", "xlsx", "pptx", "odt", "ods",
        "gz", "tgz", "bz2", "xz", "zst", "7z", "rar", "mp3", "mp4", "m4a", "mov", "avi",
    ]

    static func worthCompressing(path: String, sample: UnsafeRawBufferPointer) -> Bool {
        let ext = (path as NSString).pathExtension.lowercased()
        if storedExtensions.contains(ext) { return false }
        return entropyBitsPerByte(sample) < 7.0
    }

    /// Shannon entropy of the first 16 KiB.
    static func entropyBitsPerByte(_ bytes: UnsafeRawBufferPointer) -> Double {
        let n = min(bytes.count, 16384)
        guard n > 0 else { return 0 }
        var counts = [Int](repeating: 0, count: 256)
        for i in 0..<n { counts[Int(bytes[i])] += 1 }
        var h = 0.0
        for c in counts where c > 0 {
            let p = Double(c) / Double(n)
            h -= p * log2(p)
        }
        return h
    }
}
