import Dispatch
import Synchronization
import Testing
@testable import Engine
#if canImport(Glibc)
import Glibc
#endif

/// `Parallel.forEach` on the engine's worker pool: every index exactly once, nested and concurrent loops, and
/// work that really lands on more than one thread.
@Suite("Worker pool")
struct WorkerPoolTests {
    /// Runs a loop of `count` indices, each adding one to its own slot; returns the slots.
    static func hits(_ count: Int) -> [Int] {
        let slots = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
        defer { slots.deallocate() }
        slots.initialize(repeating: 0)
        Parallel.forEach(count) { i in slots[i] += 1 }
        return Array(slots.prefix(count))
    }

    @Test(arguments: [0, 1, 2, 3, 7, 64, 1000])
    func everyIndexRunsOnce(count: Int) {
        #expect(Self.hits(count) == [Int](repeating: 1, count: count))
    }

    @Test func nestedLoopsRunEveryIndex() {
        let outer = 6, inner = 50
        let slots = UnsafeMutableBufferPointer<Int>.allocate(capacity: outer * inner)
        defer { slots.deallocate() }
        slots.initialize(repeating: 0)
        Parallel.forEach(outer) { o in
            Parallel.forEach(inner) { i in slots[o * inner + i] += 1 }
        }
        #expect(Array(slots) == [Int](repeating: 1, count: outer * inner))
    }

    @Test func concurrentCallersEachGetTheirLoop() {
        let callers = 4, count = 500, rounds = 50
        let sums = Mutex([Int](repeating: 0, count: callers))
        DispatchQueue.concurrentPerform(iterations: callers) { caller in
            var total = 0
            for _ in 0..<rounds {
                total += Self.hits(count).reduce(0, +)
            }
            sums.withLock { $0[caller] = total }
        }
        #expect(sums.withLock { $0 } == [Int](repeating: count * rounds, count: callers))
    }

    @Test func workSpreadsOverTheCores() {
        // Each index sleeps 2 ms, far longer than any worker's wake-up, so a pool that works puts the four
        // indices on more than one thread; a single-core machine runs them all on the caller. A loop started
        // while the pool runs another one (a test running in parallel) runs on its caller, so try until the
        // pool is free.
        var used = 0
        for _ in 0..<200 {
            let threads = Mutex(Set<UInt>())
            Parallel.forEach(4) { _ in
                usleep(2000)
                let me = UInt(pthread_self())
                threads.withLock { _ = $0.insert(me) }
            }
            used = threads.withLock { $0.count }
            if used > 1 { break }
        }
        if Parallel.coreCount > 1 {
            #expect(used > 1)
        } else {
            #expect(used == 1)
        }
    }
}
