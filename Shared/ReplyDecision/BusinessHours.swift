import Foundation

/// A weekly schedule of opening hours in the account's time zone (`account_settings.business_hours`, as the API takes it:
/// `{"mon": [["09:00", "18:00"]], …}`). No day at all means no schedule: always open. A day left out is closed.
package struct BusinessHours: Sendable, Equatable {
    package static let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    package static let maximumRangesPerDay = 3

    /// Minutes from local midnight, start inclusive, end exclusive (1440 = "24:00").
    package struct Span: Sendable, Equatable {
        package let start: Int
        package let end: Int
    }

    /// Per weekday, Monday first.
    package private(set) var week: [[Span]] = Array(repeating: [], count: 7)
    package var isEmpty: Bool { !hasSchedule }
    /// True when a schedule was given (`parse` refuses one with every day closed).
    private var hasSchedule = false

    package init() {}

    /// A schedule from the API's shape, or why it is refused (in words for the business owner).
    package static func parse(_ value: [String: [[String]]]) -> Result<BusinessHours, BusinessHoursProblem> {
        var hours = BusinessHours()
        hours.hasSchedule = !value.isEmpty
        for (key, ranges) in value {
            guard let day = days.firstIndex(of: key) else {
                return .failure(.init("Name the days mon, tue, wed, thu, fri, sat and sun (not “\(key)”)."))
            }
            guard ranges.count <= maximumRangesPerDay else {
                return .failure(.init("Use at most \(maximumRangesPerDay) opening times on one day (\(key) has \(ranges.count))."))
            }
            var spans: [Span] = []
            for range in ranges {
                guard range.count == 2, let start = minutes(range[0]), let end = minutes(range[1]), start < end, start < 1440 else {
                    return .failure(.init("Write opening times as from–to pairs like [\"09:00\", \"18:00\"], the start before the end (\(key))."))
                }
                spans.append(Span(start: start, end: end))
            }
            spans.sort { $0.start < $1.start }
            for (a, b) in zip(spans, spans.dropFirst()) where b.start < a.end {
                return .failure(.init("The opening times on \(key) overlap."))
            }
            hours.week[day] = spans
        }
        if hours.hasSchedule && hours.week.allSatisfy(\.isEmpty) {
            return .failure(.init("Add opening hours to at least one day, or remove the schedule to answer at any time."))
        }
        return .success(hours)
    }

    /// The schedule from its stored JSON; no schedule when it cannot be read.
    package static func stored(_ json: String) -> BusinessHours {
        guard let data = json.data(using: .utf8), let value = try? JSONDecoder().decode([String: [[String]]].self, from: data),
            case .success(let hours) = parse(value)
        else { return BusinessHours() }
        return hours
    }

    /// The API's shape again (days in order, "HH:MM").
    package var apiValue: [String: [[String]]] {
        guard hasSchedule else { return [:] }
        var value: [String: [[String]]] = [:]
        for (index, spans) in week.enumerated() where !spans.isEmpty {
            value[Self.days[index]] = spans.map { [Self.text($0.start), Self.text($0.end)] }
        }
        return value
    }

    /// The stored form: sorted keys, so equal schedules store equally.
    package var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(apiValue)).flatMap { String(data: $0, encoding: .utf8) } ?? "{}"
    }

    /// Whether `date` falls in an opening time (always, without a schedule).
    package func isOpen(at date: Date, timeZone: TimeZone) -> Bool {
        guard hasSchedule else { return true }
        let calendar = Self.calendar(timeZone)
        let parts = calendar.dateComponents([.weekday, .hour, .minute], from: date)
        let day = ((parts.weekday ?? 2) + 5) % 7
        let minute = (parts.hour ?? 0) * 60 + (parts.minute ?? 0)
        return week[day].contains { $0.start <= minute && minute < $0.end }
    }

    /// When the closed period `date` falls in began: the end of the last opening time before it (a week back at most;
    /// with no opening time at all in the past week, the start of that week). Nil when open.
    package func closedSince(_ date: Date, timeZone: TimeZone) -> Date? {
        guard !isOpen(at: date, timeZone: timeZone) else { return nil }
        let calendar = Self.calendar(timeZone)
        let today = calendar.startOfDay(for: date)
        for back in 0...7 {
            guard let dayStart = calendar.date(byAdding: .day, value: -back, to: today) else { continue }
            let day = ((calendar.component(.weekday, from: dayStart)) + 5) % 7
            for span in week[day].reversed() {
                let end = span.end == 1440
                    ? calendar.date(byAdding: .day, value: 1, to: dayStart)
                    : calendar.date(bySettingHour: span.end / 60, minute: span.end % 60, second: 0, of: dayStart)
                if let end, end <= date { return end }
            }
        }
        return calendar.date(byAdding: .day, value: -7, to: today)
    }

    private static func calendar(_ timeZone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar
    }

    /// "09:30" → 570; "24:00" → 1440; nil for anything else.
    static func minutes(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
            let hour = Int(parts[0]), let minute = Int(parts[1]),
            (0...24).contains(hour), (0..<60).contains(minute), hour < 24 || minute == 0
        else { return nil }
        return hour * 60 + minute
    }

    static func text(_ minutes: Int) -> String {
        let hour = minutes / 60, minute = minutes % 60
        return (hour < 10 ? "0" : "") + String(hour) + ":" + (minute < 10 ? "0" : "") + String(minute)
    }
}

/// Why a schedule is refused.
package struct BusinessHoursProblem: Error, Equatable, Sendable {
    package let message: String
    init(_ message: String) { self.message = message }
}
