import CLinux
import CrispCore
import CSeccomp
import Foundation
import Glibc
import Images
import Synchronization
import OCI

/// OCI seccomp sections compiled to a kernel filter with libseccomp, as runc compiles them (see
/// `crisp_seccomp_export` for the rules both follow).
enum SeccompCompiler {
  static func compile(_ seccomp: OCISpec.Seccomp) throws(ExecProfile.Unsupported) -> (program: [UInt8], instructions: Int32) {
    var message = [CChar](repeating: 0, count: 256)
    func failure() -> ExecProfile.Unsupported {
      ExecProfile.Unsupported(reason: "seccomp: " + String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    guard let filter = crisp_seccomp_new(seccomp.defaultAction, seccomp.defaultErrnoRet ?? UInt32(EPERM), &message, message.count) else {
      throw failure()
    }
    defer { crisp_seccomp_release(filter) }
    for architecture in seccomp.architectures ?? [] {
      guard crisp_seccomp_add_architecture(filter, architecture, &message, message.count) == 0 else { throw failure() }
    }
    for rule in seccomp.syscalls ?? [] {
      let arguments = rule.args ?? []
      let ops = arguments.map { strdup($0.op) }
      defer { for op in ops { free(op) } }
      let conditions = zip(arguments, ops).map { argument, op in
        crisp_seccomp_condition(index: argument.index, value: argument.value, value_two: argument.valueTwo ?? 0, op: op)
      }
      for name in rule.names {
        let added = conditions.withUnsafeBufferPointer { buffer in
          crisp_seccomp_add_rule(
            filter, name, rule.action, rule.errnoRet == nil ? 0 : 1, rule.errnoRet ?? 0, buffer.baseAddress, Int32(buffer.count), &message,
            message.count)
        }
        guard added == 0 else { throw failure() }
      }
    }
    var program: UnsafeMutableRawPointer?
    var instructions: Int32 = 0
    guard crisp_seccomp_export(filter, &program, &instructions, &message, message.count) == 0, let program else { throw failure() }
    defer { free(program) }
    // struct sock_filter is 8 bytes.
    return (Array(UnsafeRawBufferPointer(start: program, count: Int(instructions) * 8)), instructions)
  }
}
