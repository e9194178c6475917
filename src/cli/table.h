#pragma once
// Aligned text tables of report rows, printed as rows finish.

#include <cstdio>

#include "lib/report.h"

namespace rdzv::cli {

void printSeriesHeader(std::FILE* out, const Series& series);
void printRow(std::FILE* out, const Row& row);
// The protocol engine's counters of a finished series, when it has them.
void printSeriesFooter(std::FILE* out, const Series& series);

}  // namespace rdzv::cli
