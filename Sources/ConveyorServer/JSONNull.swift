import Foundation

/// The value, or JSON null (`NSNull`) for `JSONSerialization`.
func orNull(_ value: (some Any)?) -> Any { value.map { $0 as Any } ?? NSNull() }
