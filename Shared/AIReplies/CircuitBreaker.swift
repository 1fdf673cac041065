import NIOCore
import NIOConcurrencyHelpers

/// Stops calling the AI provider for a while after repeated failures, so an outage costs one quick fallback per message
/// instead of a full timeout each, and the provider is not hammered while it recovers.
///
/// Closed: calls go through. After `threshold` outage failures in a row it opens for `openFor`; then one trial call is
/// let through (half-open): success closes it, failure opens it again. One breaker per dispatch process.
package final class CircuitBreaker: Sendable {
    package enum State: Equatable, Sendable {
        case closed
        case open(until: NIODeadline)
        /// One trial call is out since `since`; if its outcome is never recorded, another is allowed after `openFor`.
        case halfOpen(since: NIODeadline)
    }

    private struct Inner {
        var state: State = .closed
        var failures = 0
    }

    package let threshold: Int
    package let openFor: TimeAmount
    private let inner = NIOLockedValueBox(Inner())

    package init(threshold: Int = 5, openFor: TimeAmount = .seconds(30)) {
        self.threshold = max(1, threshold)
        self.openFor = openFor
    }

    package var state: State { inner.withLockedValue { $0.state } }

    /// Whether a call may be made now. While half-open only the one trial call is allowed.
    package func allow(now: NIODeadline = .now()) -> Bool {
        inner.withLockedValue { inner in
            switch inner.state {
            case .closed: return true
            case .halfOpen(let since):
                // A trial whose outcome never came back (the caller failed before recording it) does not block for ever.
                guard now >= since + openFor else { return false }
                inner.state = .halfOpen(since: now)
                return true
            case .open(let until):
                guard now >= until else { return false }
                inner.state = .halfOpen(since: now)
                return true
            }
        }
    }

    package func recordSuccess() {
        inner.withLockedValue { inner in
            inner.state = .closed
            inner.failures = 0
        }
    }

    /// Records an outage failure; returns true when this one opened the circuit.
    @discardableResult
    package func recordFailure(now: NIODeadline = .now()) -> Bool {
        inner.withLockedValue { inner in
            inner.failures += 1
            if case .halfOpen = inner.state { inner.failures = threshold }
            if inner.failures >= threshold {
                inner.state = .open(until: now + openFor)
                inner.failures = 0
                return true
            }
            return false
        }
    }

    /// A call that failed for reasons of its own (bad answer, refused request): the provider is up, the trial is over.
    package func recordNeutral() {
        inner.withLockedValue { inner in
            if case .halfOpen = inner.state { inner.state = .closed }
        }
    }
}

extension CircuitBreaker {
    /// True while open and its pause has not run out (does not take the half-open trial).
    package func isOpen(now: NIODeadline = .now()) -> Bool {
        switch state {
        case .closed: false
        case .open(let until): now < until
        case .halfOpen(let since): now < since + openFor
        }
    }
}
