/// What every fuzz target shares: a property check that stops the run (libFuzzer saves the input as a crash), and the
/// input as text the way a service would read it.

/// Stops with `message` when `condition` is false; unlike `assert`, also in release builds.
public func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) {
    guard condition() else { fatalError("property violated: \(message())", file: file, line: line) }
}

/// The fuzzer's bytes as a buffer (no copy).
public func bytes(_ data: UnsafePointer<UInt8>, _ size: Int) -> UnsafeBufferPointer<UInt8> {
    UnsafeBufferPointer(start: data, count: size)
}

/// The fuzzer's bytes as text, invalid UTF-8 replaced as a request body would be.
public func text(_ data: UnsafePointer<UInt8>, _ size: Int) -> String {
    String(decoding: bytes(data, size), as: UTF8.self)
}

/// A printable form of a string for failure messages (escapes and Unicode scalars visible).
public func show(_ value: some Any) -> String { String(reflecting: value) }
