// Fuzzes the formats (src/connectors/format/). Input: byte 0 picks the format (json, csv,
// debezium-json, raw); the rest is one record. Checks:
// - decoding never crashes, and a refused record appends no row;
// - what decodes re-encodes, and the encoding decodes back to the same rows (text of every
//   value and row kind), for every format but raw (whose row is the bytes themselves).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "reka/connector/Format.h"
#include "reka/data/Row.h"

namespace {

using reka::RowBatch;
using reka::Schema;

std::shared_ptr<const Schema> schemaFor(int format) {
  const char* columns = format == 3 ? "v STRING"
                        : format == 1
                            ? "i INT, b BIGINT, d DECIMAL(12, 3), x DOUBLE, s STRING, t TIMESTAMP(3), f BOOLEAN"
                            : "i INT, b BIGINT, d DECIMAL(12, 3), x DOUBLE, s STRING, t TIMESTAMP(3), f BOOLEAN, "
                              "r ROW<k BIGINT, n STRING>, y BYTES";
  static std::shared_ptr<const Schema> schemas[4];
  if (!schemas[format]) {
    reka::Result<Schema> parsed = Schema::parse(columns);
    if (!parsed.isOk()) std::abort();
    schemas[format] = std::make_shared<const Schema>(*parsed);
  }
  return schemas[format];
}

std::vector<std::string> texts(const RowBatch& b) {
  std::vector<std::string> out(b.size());
  for (size_t i = 0; i < b.size(); ++i) b.appendText(i, out[i]);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const char* kFormats[] = {"json", "csv", "debezium-json", "raw"};
  const int format = data[0] % 4;
  const std::string_view record(reinterpret_cast<const char*>(data + 1), size - 1);
  auto schema = schemaFor(format);
  auto decoder = reka::connector::makeDecoder(kFormats[format], schema, {});
  auto encoder = reka::connector::makeEncoder(kFormats[format], schema, {});
  if (!decoder.isOk() || !encoder.isOk()) std::abort();
  RowBatch rows(schema);
  const reka::Status s = (*decoder)->decode(record, rows);
  if (!s.isOk()) {
    if (rows.size() != 0) std::abort();  // a refused record appends nothing
    return 0;
  }
  if (format == 3) return 0;
  RowBatch again(schema);
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string encoded;
    if (!(*encoder)->encode(rows, i, encoded).isOk()) std::abort();
    if (!(*decoder)->decode(encoded, again).isOk()) std::abort();
  }
  // Debezium writes -U as a delete and +U as an insert (as Flink does): compare the values only.
  std::vector<std::string> a = texts(rows), b = texts(again);
  if (a.size() != b.size()) std::abort();
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].substr(2) != b[i].substr(2)) std::abort();
  return 0;
}
