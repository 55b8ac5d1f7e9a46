import Foundation

/// xoshiro256** seeded through SplitMix64: fast, and the same sequence for the same seed
/// on every machine, so `--data-only --seed S` writes the same bytes every time.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    /// A generator whose whole sequence follows from `seed`.
    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    /// The next 64 random bits (xoshiro256**).
    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }

    /// A uniform double in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { unit() < p }

    /// A uniform integer in `range`.
    public mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }

    /// A uniform element of `items`, which must not be empty.
    public mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }

    /// Log-normal with the given median and shape.
    public mutating func logNormal(median: Double, sigma: Double) -> Double {
        let u1 = max(unit(), 1e-12)
        let u2 = unit()
        let z = (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
        return median * exp(sigma * z)
    }

    /// Fills `buffer` with pseudo-random bytes, 8 at a time.
    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        let words = buffer.count / 8
        for i in 0..<words { buffer.storeBytes(of: next(), toByteOffset: i * 8, as: UInt64.self) }
        var tail = next()
        for i in (words * 8)..<buffer.count { buffer[i] = UInt8(tail & 0xff); tail >>= 8 }
    }

    /// `n` pseudo-random bytes.
    public mutating func bytes(_ n: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        out.withUnsafeMutableBytes { fill($0) }
        return out
    }
}
