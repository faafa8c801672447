// render_kernel.cu's kernel run on the host, for the checks that need no GPU (emulation_check.cpp,
// mock_runtime_check.cpp): the kernel's own body (image_phases.hpp's render_block), every thread of a
// block a fiber (a stack of its own; on x86-64 a switch of a few instructions, elsewhere POSIX ucontext,
// whose switches cost a system call each). A seeded random scheduler picks which fiber runs next, whenever one
// reaches a barrier or one of the places between phases where the kernel has no barrier, and runs
// several blocks at once as an SM does; a barrier releases a block's fibers only when all of them have
// reached it. So a read that the kernel's barriers do not order after its write (in the block, or across
// blocks sharing memory) gives bytes that depend on the schedule, and the checks compare the bytes with
// the CPU renderer under several seeds.
#pragma once
#include <ucontext.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "image_phases.hpp"
#include "pnoise.hpp"

namespace vatom {
namespace cuda {

namespace emulation {

// Enough for render_block's frames in every build type; untouched pages cost nothing.
constexpr size_t kStackBytes = 256 << 10;

enum class FiberState { Ready, AtBarrier, Done };

#if defined(__x86_64__) && defined(__GNUC__)
// Saves the callee-saved registers, MXCSR and the x87 control word on the current stack and its stack
// pointer in *from, then resumes the stack `to` saved the same way (or laid out by start_fiber).
__attribute__((naked, noinline)) inline void switch_stack(void** /*from*/, void* /*to*/) {
  asm("pushq %rbp\n\tpushq %rbx\n\tpushq %r12\n\tpushq %r13\n\tpushq %r14\n\tpushq %r15\n\t"
      "subq $8, %rsp\n\tstmxcsr (%rsp)\n\tfnstcw 4(%rsp)\n\t"
      "movq %rsp, (%rdi)\n\tmovq %rsi, %rsp\n\t"
      "ldmxcsr (%rsp)\n\tfldcw 4(%rsp)\n\taddq $8, %rsp\n\t"
      "popq %r15\n\tpopq %r14\n\tpopq %r13\n\tpopq %r12\n\tpopq %rbx\n\tpopq %rbp\n\tret");
}

struct Context {
  void* sp = nullptr;
};
inline void switch_context(Context& from, Context& to) { switch_stack(&from.sp, to.sp); }
#else
struct Context {
  ucontext_t uc;
};
inline void switch_context(Context& from, Context& to) { swapcontext(&from.uc, &to.uc); }
#endif

struct Scheduler;

struct Fiber {
  Context context;
  std::unique_ptr<char[]> stack;
  Scheduler* scheduler = nullptr;
  FiberState state = FiberState::Ready;
  int slot = 0;           // which of the blocks running together
  int t = 0;              // threadIdx.x
  int64_t block = 0;      // blockIdx.x
  int64_t barriers = 0;   // sync() calls so far
};

struct Scheduler {
  Context main;
  const KernelParams* p = nullptr;
  int64_t grid = 0;
  int threads = 0;
  std::vector<uint8_t*> shared;  // per slot
  int left_out = 0;              // BarrierSite bits: these barriers are mere switch points
};

// The fiber that a scheduler on this thread is switching to (how a new fiber finds itself).
inline Fiber*& starting_fiber() {
  static thread_local Fiber* f = nullptr;
  return f;
}

// The Barrier of render_block for one fiber.
struct FiberBarrier {
  Fiber* fiber;
  void sync(BarrierSite site) const {
    if (site & fiber->scheduler->left_out) return between();
    fiber->state = FiberState::AtBarrier;
    ++fiber->barriers;
    switch_context(fiber->context, fiber->scheduler->main);
  }
  void between() const { switch_context(fiber->context, fiber->scheduler->main); }
};

// A fiber's whole life: the kernel's body, then back to the scheduler for good.
inline void fiber_main() {
  Fiber* f = starting_fiber();
  Scheduler& s = *f->scheduler;
  FiberBarrier barrier{f};
  render_block(*s.p, s.shared[f->slot], kPerlinPerm, f->block, s.grid, f->t, s.threads, barrier);
  f->state = FiberState::Done;
  switch_context(f->context, s.main);
}

// Sets f to run fiber_main from the start when switched to.
inline void start_fiber(Fiber& f) {
#if defined(__SANITIZE_ADDRESS__)
  // A stack reused from a fiber that never returned still has its frames' red zones.
  ASAN_UNPOISON_MEMORY_REGION(f.stack.get(), kStackBytes);
#endif
#if defined(__x86_64__) && defined(__GNUC__)
  // The frame switch_stack pops: control words, six registers, then fiber_main as the return address and
  // an empty slot, so that fiber_main starts with the stack aligned as after a call.
  uintptr_t top = (reinterpret_cast<uintptr_t>(f.stack.get()) + kStackBytes) & ~static_cast<uintptr_t>(15);
  uint64_t* sp = reinterpret_cast<uint64_t*>(top) - 9;
  sp[0] = 0x1F80u | (static_cast<uint64_t>(0x037Fu) << 32);  // MXCSR and x87 control word at start-up
  for (int i = 1; i <= 6; ++i) sp[i] = 0;
  sp[7] = reinterpret_cast<uint64_t>(&fiber_main);
  sp[8] = 0;
  f.context.sp = sp;
#else
  getcontext(&f.context.uc);
  f.context.uc.uc_stack.ss_sp = f.stack.get();
  f.context.uc.uc_stack.ss_size = kStackBytes;
  f.context.uc.uc_link = nullptr;
  makecontext(&f.context.uc, &fiber_main, 0);
#endif
}

}  // namespace emulation

// Runs the kernel launch <<<grid, threads>>> with parameters p on the host: p.out, p.classes, p.tables and
// p.scratch are host pointers. `concurrent` blocks run at once, their threads interleaved; `seed` picks
// the schedule. Throws std::logic_error when some threads of a block leave the kernel while others
// wait at a barrier (undefined on a GPU). left_out (BarrierSite bits, for the emulation's self-check)
// removes barriers from the kernel.
inline void emulate_kernel(const KernelParams& p, int grid, int threads, uint64_t seed, int concurrent = 2,
                           int left_out = 0) {
  using namespace emulation;
  const WorkLayout l = work_layout(p.qcap, static_cast<int64_t>(p.band_rows) * p.size, p.scratch == nullptr);
  if (concurrent < 1) concurrent = 1;
  if (concurrent > grid) concurrent = grid;
  std::mt19937_64 rng(seed);
  Scheduler s;
  s.p = &p;
  s.grid = grid;
  s.threads = threads;
  s.left_out = left_out;
  const size_t shared_words = static_cast<size_t>(l.shared_bytes / 8 + 2);
  std::vector<std::vector<uint64_t>> shared(static_cast<size_t>(concurrent), std::vector<uint64_t>(shared_words));
  for (auto& area : shared) s.shared.push_back(reinterpret_cast<uint8_t*>(area.data()));
  std::vector<Fiber> fibers(static_cast<size_t>(concurrent) * threads);
  for (Fiber& f : fibers) f.stack.reset(new char[kStackBytes]);
  std::vector<Fiber*> ready;
  for (int64_t first = 0; first < grid; first += concurrent) {
    const int slots = static_cast<int>(std::min<int64_t>(concurrent, grid - first));
    std::vector<int> waiting(static_cast<size_t>(slots), 0), done(static_cast<size_t>(slots), 0);
    for (int slot = 0; slot < slots; ++slot) {
      // Shared memory starts undefined.
      std::fill(shared[static_cast<size_t>(slot)].begin(), shared[static_cast<size_t>(slot)].end(), 0x3C3C3C3C3C3C3C3Cull);
      for (int t = 0; t < threads; ++t) {
        Fiber& f = fibers[static_cast<size_t>(slot) * threads + t];
        f.scheduler = &s;
        f.state = FiberState::Ready;
        f.slot = slot;
        f.t = t;
        f.block = first + slot;
        f.barriers = 0;
        start_fiber(f);
        ready.push_back(&f);
      }
    }
    while (!ready.empty()) {
      const size_t pick = static_cast<size_t>(rng() % ready.size());
      Fiber* f = ready[pick];
      ready[pick] = ready.back();
      ready.pop_back();
      starting_fiber() = f;
      switch_context(s.main, f->context);
      if (f->state == FiberState::Ready) {
        ready.push_back(f);
        continue;
      }
      const size_t slot = static_cast<size_t>(f->slot);
      ++(f->state == FiberState::Done ? done : waiting)[slot];
      if (waiting[slot] + done[slot] < threads || waiting[slot] == 0) continue;
      Fiber* const block = &fibers[slot * threads];
      if (done[slot] > 0) {
        throw std::logic_error("emulated kernel: in block " + std::to_string(f->block) + ", " +
                               std::to_string(done[slot]) + " threads left the kernel while " +
                               std::to_string(waiting[slot]) + " waited at a barrier");
      }
      for (int t = 0; t < threads; ++t) {
        if (block[t].barriers != block[0].barriers) {
          throw std::logic_error("emulated kernel: in block " + std::to_string(f->block) + ", thread " +
                                 std::to_string(t) + " waits at barrier " + std::to_string(block[t].barriers) +
                                 " and thread 0 at barrier " + std::to_string(block[0].barriers));
        }
        block[t].state = FiberState::Ready;
        ready.push_back(&block[t]);
      }
      waiting[slot] = 0;
    }
  }
}

}  // namespace cuda
}  // namespace vatom
