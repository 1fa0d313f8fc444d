import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The machine's own group-commit ceiling: `threads` threads each append a record of
/// `recordSize` bytes and wait until it is durable, while one flusher thread writes
/// whatever is pending with one `pwrite` and one `fdatasync`. No framing, no checksums,
/// no compression: the physical reference a durable log is measured against.
public enum GroupCommitCeiling {
    final class State: @unchecked Sendable {
        // @unchecked Sendable: every field is guarded by `mutex`.
        var mutex = pthread_mutex_t()
        var work = pthread_cond_t()
        var done = pthread_cond_t()
        var buffer: [UInt8] = []
        var nextTicket: UInt64 = 1
        var durableTicket: UInt64 = 0
        var stop = false
        init() {
            pthread_mutex_init(&mutex, nil)
            pthread_cond_init(&work, nil)
            pthread_cond_init(&done, nil)
        }
    }

    /// Runs for `duration` and returns durable records per second.
    public static func run(threads: Int, recordSize: Int = 300, duration: Duration, directory: String) -> Double {
        let path = directory + "/ceiling-\(threads).dat"
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0, "cannot create \(path)")
        defer {
            close(fd)
            unlink(path)
        }
        let state = State()
        let record = [UInt8](repeating: 0x5A, count: recordSize)
        let flusher = Thread {
            var offset = 0
            var batch: [UInt8] = []
            while true {
                pthread_mutex_lock(&state.mutex)
                while state.buffer.isEmpty && !state.stop { pthread_cond_wait(&state.work, &state.mutex) }
                if state.stop && state.buffer.isEmpty {
                    pthread_mutex_unlock(&state.mutex)
                    return
                }
                swap(&batch, &state.buffer)
                let last = state.nextTicket - 1
                pthread_mutex_unlock(&state.mutex)
                let written = batch.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
                precondition(written == batch.count, "pwrite failed")
                offset += batch.count
                precondition(fdatasync(fd) == 0, "fdatasync failed")
                batch.removeAll(keepingCapacity: true)
                pthread_mutex_lock(&state.mutex)
                state.durableTicket = last
                pthread_cond_broadcast(&state.done)
                pthread_mutex_unlock(&state.mutex)
            }
        }
        flusher.start()
        let finished = DispatchGroup()
        for _ in 0..<threads {
            finished.enter()
            let appender = Thread {
                while true {
                    pthread_mutex_lock(&state.mutex)
                    if state.stop {
                        pthread_mutex_unlock(&state.mutex)
                        break
                    }
                    state.buffer.append(contentsOf: record)
                    let ticket = state.nextTicket
                    state.nextTicket += 1
                    pthread_cond_signal(&state.work)
                    while state.durableTicket < ticket { pthread_cond_wait(&state.done, &state.mutex) }
                    pthread_mutex_unlock(&state.mutex)
                }
                finished.leave()
            }
            appender.start()
        }
        let clock = ContinuousClock()
        let start = clock.now
        Thread.sleep(forTimeInterval: Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
        pthread_mutex_lock(&state.mutex)
        let durable = state.durableTicket
        let elapsed = clock.now - start
        state.stop = true
        pthread_cond_broadcast(&state.work)
        pthread_mutex_unlock(&state.mutex)
        finished.wait()
        return Double(durable) / elapsed.secondsDouble
    }
}

extension Duration {
    public var secondsDouble: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
