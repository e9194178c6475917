#pragma once
// The arithmetic of the built-in collective algorithms: for each rank, which peer it sends to
// and receives from, and which elements, step by step. Pure functions, so every algorithm's
// schedule can be checked for n = 2..9 without a transport (tests/unit/test_collectives.cc);
// algorithms.cc executes them over Buffers.
//
// Vectors are split into n blocks of nearly equal size (block b starts at element
// b * count / n), and a rank's share of a reduce-scatter is always block `rank`, so the
// algorithms of one collective leave the same result in the same place.

#include <cstddef>
#include <vector>

namespace rdzv::bench::sched {

// Elements [offset, offset + count).
struct Range {
  std::size_t offset = 0;
  std::size_t count = 0;
  // One past the last element.
  std::size_t end() const { return offset + count; }
  // Whether the two share an element (empty ranges share none).
  bool overlaps(const Range& other) const {
    return count > 0 && other.count > 0 && offset < other.end() && other.offset < end();
  }
  bool operator==(const Range&) const = default;
};

// Blocks [first, last) of `count` elements split into `parts` blocks.
Range blocks(std::size_t count, int parts, int first, int last);
// `a` modulo `n`, in 0 .. n-1 also for negative `a`.
int mod(int a, int n);

// One message of a step. A send reads `range` of the send side's memory; a receive writes
// `range` of the receive side's, or, when its step reduces, lands at `scratch` (elements into
// the scratch memory) and is then reduced into `range`.
struct Transfer {
  int peer = -1;
  Range range;
  std::size_t scratch = 0;
};

// Messages posted together and all awaited before the next step.
struct Step {
  std::vector<Transfer> sends;
  std::vector<Transfer> recvs;
  bool reduce = false;  // receives are reduced into their ranges (else they land in place)
};
using Plan = std::vector<Step>;

// Scratch elements the reducing receives of `plan` need at once.
std::size_t scratchNeeded(const Plan& plan);
// The most receives any one step posts.
std::size_t maxRecvsPerStep(const Plan& plan);

// Allreduce by recursive halving (reduce-scatter) and doubling (allgather), Rabenseifner's.
// With n not a power of two, p = the largest power of two below n and r = n - p: each even
// rank below 2r first hands its vector to the odd rank above it and gets the result back at
// the end, so p ranks run the halving and doubling.
Plan halvingDoubling(int rank, int n, std::size_t count);

// The group sizes (radices) of bcube for n ranks: n as a product of factors of at most 4
// where it can be (8 = 4 x 2, 9 = 3 x 3), a prime above 4 standing alone (10 = 2 x 5).
std::vector<int> bcubeRadices(int n);
enum class Phases { ReduceScatter, Allgather, Both };
// Bcube (a generalised hypercube): ranks are digit strings in the mixed radix of
// bcubeRadices(n), most significant digit first. Reduce-scatter step i exchanges with the
// ranks that differ only in digit i, each keeping the part of the current range its digit
// names, so rank r ends with block r; the allgather retraces the steps backwards.
Plan bcube(int rank, int n, std::size_t count, Phases phases);

// Broadcast down a binomial tree rooted at `root` (relative rank v receives from v minus its
// lowest set bit, then sends to v + 2^k for every 2^k below that bit).
Plan binomialBroadcast(int rank, int n, int root, std::size_t count);

// Barrier by dissemination: round k sends an empty message to rank + 2^k and receives one
// from rank - 2^k; after ceil(log2 n) rounds every rank has heard from every other.
Plan dissemination(int rank, int n);

// Alltoall, pairwise: step s (1 .. n-1) sends block rank+s of the input to rank+s and receives
// block rank-s of the output from rank-s. A rank's own block is copied locally, not planned.
Plan pairwiseAlltoall(int rank, int n, std::size_t block);

// One hop of a ring pipeline: an optional send and an optional receive. Hops chain: the range
// received in hop h is the range sent in hop h+1, so each segment travels on as soon as it
// has arrived (and been reduced), while the next segments are still in flight.
struct Hop {
  int send_peer = -1;  // -1: nothing sent in this hop
  Range send;
  int recv_peer = -1;  // -1: nothing received in this hop
  Range recv;
  bool reduce = false;  // the received segment is reduced into `recv` (else it lands there)
};

// Ring allreduce: n-1 reduce-scatter hops (send block rank-h to the right, receive and reduce
// block rank-h-1 from the left), then n-1 allgather hops (send block rank+1-h, receive block
// rank-h).
std::vector<Hop> ringAllreduce(int rank, int n, std::size_t count);
// Ring reduce-scatter, ending with block `rank` reduced (hop h sends block rank-h-1).
std::vector<Hop> ringReduceScatter(int rank, int n, std::size_t count);
// Ring allgather, starting from block `rank` (hop h sends block rank-h, receives rank-h-1).
std::vector<Hop> ringAllgather(int rank, int n, std::size_t count);
// Broadcast along the chain root, root+1, ...: each rank receives the vector from the one
// before it and passes it on to the one after it.
std::vector<Hop> chainBroadcast(int rank, int n, int root, std::size_t count);

// Segment k of `segments` nearly equal parts of `range`.
Range segment(const Range& range, int segments, int k);
// Segments a pipeline cuts its largest hop into so that each is at most `segment_elements`.
int segmentsFor(const std::vector<Hop>& hops, std::size_t segment_elements);

// Hops cut into segments, in the order every rank posts them (by hop, then segment; empty
// segments dropped, as on the peer): the receives, and the sends each with the receive it
// forwards (segment k of hop h-1's receive, the same range), which must complete first.
struct Pipeline {
  struct Send {
    int peer = -1;
    Range range;
    int after = -1;  // index into recvs, or -1 when the send forwards nothing
  };
  struct Recv {
    int peer = -1;
    Range range;
    bool reduce = false;
  };
  std::vector<Send> sends;
  std::vector<Recv> recvs;
};
Pipeline flatten(const std::vector<Hop>& hops, int segments);

}  // namespace rdzv::bench::sched
