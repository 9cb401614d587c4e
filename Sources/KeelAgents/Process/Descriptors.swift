import Foundation
import Synchronization

#if canImport(System)
import System
#else
import SystemPackage
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The raw descriptors of one run, each closed exactly once.
///
/// Closing a descriptor twice in a concurrent program can close someone else's file (the
/// number is reused at once), so every descriptor has one owner: this set until
/// ``take(_:)`` hands it to a reader or writer thread, which then closes it itself.
final class DescriptorSet: Sendable {
    private let open = Mutex<Set<Int32>>([])

    /// A pipe whose both ends close on exec, so that processes spawned concurrently by
    /// other code never inherit them (an inherited write end would hold our pipe open).
    func makePipe() throws(ProcessError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        #if canImport(Darwin)
        // No pipe2(2) before macOS 27: a spawn racing on another thread between these calls
        // could inherit the ends; Keel's deployments are Linux.
        let rc = pipe(&fds)
        if rc == 0 {
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        }
        #else
        var rc: Int32 = 0
        do {
            let ends = try FileDescriptor.pipe(options: .closeOnExec)
            fds = [ends.readEnd.rawValue, ends.writeEnd.rawValue]
        } catch {
            rc = -1
            errno = error.rawValue
        }
        #endif
        guard rc == 0 else {
            throw ProcessError(
                code: .resourcesUnavailable,
                message: "Could not create a pipe for the process (\(Self.errnoText())). "
                    + "Check the open-file limit (ulimit -n) and how many processes Keel runs at once.",
                cause: POSIXErrorCode(rawValue: errno).map { POSIXError($0) }
            )
        }
        open.withLock { $0.formUnion([fds[0], fds[1]]) }
        return (fds[0], fds[1])
    }

    /// `/dev/null` for reading: the standard input of a process that gets none.
    func openNullDevice() throws(ProcessError) -> Int32 {
        let fd = openDescriptor("/dev/null", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ProcessError(
                code: .resourcesUnavailable,
                message: "Could not open /dev/null for the process's standard input (\(Self.errnoText())).",
                cause: POSIXErrorCode(rawValue: errno).map { POSIXError($0) }
            )
        }
        open.withLock { _ = $0.insert(fd) }
        return fd
    }

    /// Hands `fd` to a new owner; returns false if it is already gone.
    func take(_ fd: Int32) -> Bool {
        open.withLock { $0.remove(fd) != nil }
    }

    /// Closes `fd` now, if this set still owns it.
    func close(_ fd: Int32) {
        if take(fd) {
            _ = closeDescriptor(fd)
        }
    }

    /// Closes everything this set still owns.
    func closeAll() {
        let remaining = open.withLock { fds -> Set<Int32> in
            let all = fds
            fds.removeAll()
            return all
        }
        for fd in remaining {
            _ = closeDescriptor(fd)
        }
    }

    static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}

/// `close(2)`, named so that it cannot be confused with a method called `close`.
func closeDescriptor(_ fd: Int32) -> Int32 {
    #if canImport(Darwin)
    return Darwin.close(fd)
    #elseif canImport(Musl)
    return Musl.close(fd)
    #else
    return Glibc.close(fd)
    #endif
}

// `open(2)` with a mode.
func openDescriptor(_ path: String, _ flags: Int32, _ mode: mode_t = 0) -> Int32 {
    #if canImport(Darwin)
    return Darwin.open(path, flags, mode)
    #elseif canImport(Musl)
    return Musl.open(path, flags, mode)
    #else
    return Glibc.open(path, flags, mode)
    #endif
}
