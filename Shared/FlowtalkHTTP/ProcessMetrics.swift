import CoreMetrics
import Foundation

/// Process metrics read from /proc at each scrape (Linux; elsewhere nothing is recorded): resident memory, CPU seconds,
/// open file descriptors, start time, and `flowtalk_build_info{service, version}` (`FLOWTALK_VERSION`, else "unversioned").
package struct ProcessMetrics: Sendable {
    let factory: any MetricsFactory
    let service: String
    static let start = Date()

    package init(factory: any MetricsFactory, service: String) {
        self.factory = factory
        self.service = service
    }

    package func record() {
        let version = ProcessInfo.processInfo.environment["FLOWTALK_VERSION"] ?? "unversioned"
        Gauge(label: "flowtalk_build_info", dimensions: [("service", service), ("version", version)], factory: factory).record(1)
        Gauge(label: "process_start_time_seconds", factory: factory).record(Self.start.timeIntervalSince1970)
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8), let resident = statm.split(separator: " ").dropFirst().first,
            let pages = Double(resident)
        {
            Gauge(label: "process_resident_memory_bytes", factory: factory).record(pages * pageSize)
        }
        // /proc/self/stat: fields after the command's closing parenthesis; utime and stime are the 12th and 13th there.
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") {
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]), ticks > 0 {
                Gauge(label: "process_cpu_seconds", factory: factory).record((user + system) / ticks)
            }
        }
        if let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            Gauge(label: "process_open_fds", factory: factory).record(descriptors.count)
        }
    }
}
