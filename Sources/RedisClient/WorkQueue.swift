import Foundation

/// A FIFO of work for threads that own a blocking connection (the Redis pool's, the MongoDB
/// client's), guarded by a pthread mutex and condition variable.
///
/// `@unchecked Sendable`: every access to `items` and `closed` happens with `mutex` held, and the
/// pthread objects are allocated once and freed in `deinit`, after the last thread has exited.
public final class WorkQueue<Item>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var items: [Item] = []
    private var head = 0
    private var closed = false

    public init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    /// Adds an item; returns false when the queue is closed.
    public func push(_ item: Item) -> Bool {
        pthread_mutex_lock(mutex)
        if closed {
            pthread_mutex_unlock(mutex)
            return false
        }
        items.append(item)
        pthread_mutex_unlock(mutex)
        // Signalled after the unlock, so the woken thread does not wake into a held mutex.
        pthread_cond_signal(condition)
        return true
    }

    /// Blocks until an item is available; nil once closed and drained.
    public func pop() -> Item? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while head == items.count {
            if closed { return nil }
            pthread_cond_wait(condition, mutex)
        }
        let item = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return item
    }

    /// Refuses new items and wakes every waiting thread; queued items are still handed out.
    public func close() {
        pthread_mutex_lock(mutex)
        closed = true
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }
}
