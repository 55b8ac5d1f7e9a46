import Foundation
import LeafConfig
import LeafKeys
import LeafTestSupport

/// The problems a configuration error lists, as text.
func problems(_ body: () throws -> Void) -> [String] {
    do { try body(); return [] } catch let e as ConfigurationError {
        return e.problems.map(\.description)
    } catch { return ["unexpected \(error)"] }
}
