# Sourced by install.sh, quickstart.sh, bench.sh and text-order.sh (all build in .build-rel): the flags of
# the release build of crisp and the tools linked with it (crispctl, crisp-bench; not the shim and pause,
# which are Embedded Swift and C).
#
# Every function gets a section of its own (Swift and C), and the linker (gold, Swift's default on Linux)
# lays the daemon's text out in the order of deploy/crisp.text-order: the functions kubelet's polling runs
# together (gold puts the listed sections after the unlisted ones, in the file's order). The kernel maps a
# binary's code 64 KiB around every page fault, so polling code spread over the 40 MB text kept ~15 MB of it
# mapped in the daemon (its PSS); laid out together it is 10-11 MB before a polling trim, 5 MB after one
# (README, "A full node"). A function missing from the file (the code changed since it was made) only lands
# among the rest: remake the file with deploy/text-order.sh.
#
# Build in a scratch path that has only ever been built with these flags: a scratch path built before
# without them was seen to keep its Swift objects (the driver "compiled" each module and left its objects
# as they were, without function sections), and the layout then applies to the C code alone.
#
# --section-ordering-file is gold's (the linker Swift 6.3 uses on Linux); lld's equivalent is
# --symbol-ordering-file, so a toolchain that links with lld needs this line changed.
crisp_release_flags=(
  -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections
  -Xlinker "--section-ordering-file=$(pwd)/deploy/crisp.text-order"
)
