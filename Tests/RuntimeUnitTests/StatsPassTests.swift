import Testing

@testable import Runtime

/// A stats pass split over the cores answers exactly what a pass in one go answers: every item once,
/// in the items' order, whatever the count, and whichever slice finishes first.
@Suite struct StatsPassTests {
  @Test(arguments: [0, 1, 15, 16, 17, 31, 32, 33, 110, 250, 1001])
  func everyItemOnceInOrder(count: Int) async {
    let items = Array(0..<count)
    for cores in [1, 2, 4, 64] {
      let results = await StatsPass.map(items, cores: cores) { item in item * 3 }
      #expect(results == items.map { $0 * 3 }, "\(cores) cores")
    }
  }

  /// The first slice is made the slowest: results gathered in finishing order would put it last.
  @Test func slicesFinishingOutOfOrderKeepTheItemsOrder() async {
    let items = Array(0..<64)
    let results = await StatsPass.map(items, cores: 4) { item -> Int in
      if item < 16 { try? await Task.sleep(for: .milliseconds(20)) }
      return item
    }
    #expect(results == items)
  }
}
