#pragma once
// Slurm's compressed host lists (SLURM_STEP_NODELIST, SLURM_JOB_NODELIST), expanded here rather
// than by `scontrol show hostnames`, which needs the controller and is not on every node.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace rdzv {

// Expands a host list such as "nid[001-004,010],login2" or "rack[1-2]-node[01-02]" into host
// names in Slurm's order: items left to right; within an item with several bracket groups, the
// first group varies slowest (rack1-node01, rack1-node02, rack2-node01, ...). A range keeps the
// width of its lower bound ("[08-10]" gives 08 09 10). `what` names the list's source (such as
// "SLURM_STEP_NODELIST") in errors. Throws Usage naming the list and what is wrong with it:
// empty list or item, unbalanced or nested brackets, a bound that is not digits, a reversed
// range, whitespace, or more than `max_hosts` names.
std::vector<std::string> expandHostlist(std::string_view list, std::string_view what = "host list",
                                        std::size_t max_hosts = 1'000'000);

}  // namespace rdzv
