#pragma once
// The human and CI forms of a Comparison: an aligned text table (stdout), a Markdown summary
// for a pull-request comment, and JUnit XML (one test case per series and size).

#include <string>

#include "lib/compare.h"

namespace rdzv {

// One table per matched series, the unmatched series and sizes, and a closing summary line.
std::string formatComparisonText(const Comparison& c);

// A heading with the verdict, the two reports, a table of the changes beyond tolerance, and
// every comparison in a collapsed <details> block.
std::string formatComparisonMarkdown(const Comparison& c);

// JUnit XML: a test suite per series, a test case per size; a regression is a failure, a size
// or series on one side only is skipped.
std::string formatComparisonJunit(const Comparison& c);

}  // namespace rdzv
