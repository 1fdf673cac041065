/// A value that must never be printed: its descriptions are always `<redacted>`.
package struct Secret<Value: Sendable>: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The wrapped value; read it only where it is used.
    package let value: Value

    /// Wraps a value.
    package init(_ value: Value) { self.value = value }

    package var description: String { "<redacted>" }
    package var debugDescription: String { "<redacted>" }
    package var customMirror: Mirror { Mirror(self, children: []) }
}
