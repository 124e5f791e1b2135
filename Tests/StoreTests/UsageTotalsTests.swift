import Store
import Testing

/// The arithmetic of usage accounting: sums saturate, removals stop at zero, negative inputs count as zero.
@Suite struct UsageTotalsTests {
  @Test func addsAndRemoves() {
    var total = UsageTotals()
    total.add(UsageTotals(bytes: 4096, inodes: 1))
    total.add(UsageTotals(bytes: 8192, inodes: 3))
    #expect(total == UsageTotals(bytes: 12288, inodes: 4))
    total.remove(UsageTotals(bytes: 4096, inodes: 1))
    #expect(total == UsageTotals(bytes: 8192, inodes: 3))
    #expect(UsageTotals(bytes: 1, inodes: 2) + UsageTotals(bytes: 3, inodes: 4) == UsageTotals(bytes: 4, inodes: 6))
  }

  @Test func neverNegative() {
    var total = UsageTotals(bytes: 100, inodes: 1)
    total.remove(UsageTotals(bytes: 101, inodes: 5))
    #expect(total.bytes == 0 && total.inodes == 0)
    total.remove(UsageTotals(bytes: Int64.max, inodes: Int64.max))
    #expect(total == UsageTotals())
    #expect(UsageTotals(bytes: -5, inodes: Int64.min) == UsageTotals())
    // A negative amount added or removed is no amount.
    total.add(UsageTotals(bytes: -7, inodes: -1))
    #expect(total == UsageTotals())
  }

  @Test func saturatesInsteadOfOverflowing() {
    var total = UsageTotals(bytes: Int64.max - 10, inodes: Int64.max)
    total.add(UsageTotals(bytes: 11, inodes: 1))
    #expect(total.bytes == Int64.max && total.inodes == Int64.max)
    total.add(UsageTotals(bytes: Int64.max, inodes: Int64.max))
    #expect(total.bytes == Int64.max)
    total.remove(UsageTotals(bytes: Int64.max - 1, inodes: 1))
    #expect(total.bytes == 1 && total.inodes == Int64.max - 1)
  }
}
