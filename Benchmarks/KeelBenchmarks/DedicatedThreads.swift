import Foundation

/// Runs async work on threads of its own, one per core, instead of Swift's cooperative pool.
///
/// The benchmark runner runs each async benchmark from a cooperative-pool thread that blocks in
/// `DispatchSemaphore.wait()` until the benchmark's `Task` is done (`Benchmark.runAsync()` in
/// ordo-one/benchmark 1.38), so the pool, as wide as the machine has cores, has one thread fewer
/// than in production. On 2 cores that leaves one: a task group that keeps both cores busy in
/// `keel ledger verify` ran serially inside the runner (CPU time equal to wall time, the same
/// rate as on one core). Measured parallel work goes through ``run(_:)``: with a task executor
/// preference, its child tasks (and actors without executors of their own) run on these threads,
/// as many as the pool would have had.
final class DedicatedThreads: TaskExecutor, @unchecked Sendable {
    /// One thread per active core, for the whole process.
    static let shared = DedicatedThreads(count: ProcessInfo.processInfo.activeProcessorCount)

    /// Runs `body` with these threads as its task executor preference.
    static func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await withTaskExecutorPreference(shared) { try await body() }
    }

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var next = 0

    init(count: Int) {
        for index in 0..<max(1, count) {
            let thread = Thread { [self] in work() }
            thread.name = "keel-bench-\(index)"
            thread.start()
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while next == jobs.count { condition.wait() }
            let job = jobs[next]
            next += 1
            if next > 1024, next * 2 > jobs.count {
                jobs.removeFirst(next)
                next = 0
            }
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
