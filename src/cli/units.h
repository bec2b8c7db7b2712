#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/time_text.h"

// The docker/go-units humanisation the docker CLI prints (sizes, ages, ids), and the size
// parser its flags use. Each function names the go-units / moby function it reproduces.
namespace berth::cli {

// go-units HumanSizeWithPrecision: decimal units (B, kB, MB, GB, TB, PB, EB, ZB, YB) formatted
// with Go's "%.*g" — `docker images` uses precision 3 ("1.98MB"), HumanSize uses 4.
std::string HumanSizeWithPrecision(double size, int precision);
// go-units HumanSize: HumanSizeWithPrecision(size, 4) ("7.05kB", "0B", "1.2GB").
std::string HumanSize(double size);
// go-units BytesSize: binary units (B, KiB, MiB, ...) with "%.4g" ("1.5KiB").
std::string BytesSize(double size);

// go-units HumanDuration (one implementation, in base: the daemon shows it too).
using ::berth::HumanDuration;

// What `docker ps` prints for a creation time `seconds` ago: HumanDuration + " ago".
std::string TimeAgo(int64_t seconds);
// Go's time.Time.String() of a unix time in local time ("2024-01-02 15:04:05 +0100 CET"), as
// `--format {{.CreatedAt}}` prints it for images and containers.
std::string GoTime(int64_t seconds);

// moby stringid.TruncateID: drops an algorithm prefix ("sha256:") and keeps 12 characters.
std::string TruncateId(std::string_view id);

// go-units RAMInBytes (binary: "64m" is 64 MiB, "1.5GB" is 1.5 GiB; "b", "k", "kb", "kib", any
// case, an optional space before the suffix). Throws berth::Error kInvalidArgument
// ("invalid size: '...'", "invalid suffix: '...'").
int64_t ParseSize(std::string_view text);
// go-units FromHumanSize: the same syntax with decimal multipliers ("1k" is 1000).
int64_t ParseHumanSize(std::string_view text);

}  // namespace berth::cli
