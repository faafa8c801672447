#include "npy.hpp"

#include <stdexcept>

namespace vatom {

std::string npy_header(const std::string& descr, const std::vector<int64_t>& shape, int64_t total_size) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) {
    dict += std::to_string(shape[i]);
    if (shape.size() == 1 || i + 1 < shape.size()) dict += ",";
    if (i + 1 < shape.size()) dict += " ";
  }
  dict += "), }";
  const int64_t prefix = 10;  // magic (6) + version (2) + uint16 length (2)
  int64_t size = total_size;
  if (size == 0) size = (prefix + static_cast<int64_t>(dict.size()) + 1 + 63) / 64 * 64;
  const int64_t dict_length = size - prefix;
  if (dict_length < static_cast<int64_t>(dict.size()) + 1 || dict_length > 65535 || size % 64 != 0) {
    throw std::logic_error("npy header does not fit in " + std::to_string(size) + " bytes");
  }
  std::string header("\x93NUMPY\x01\x00", 8);
  header += static_cast<char>(dict_length & 0xff);
  header += static_cast<char>(dict_length >> 8);
  header += dict;
  header.append(static_cast<size_t>(dict_length) - dict.size() - 1, ' ');
  header += '\n';
  return header;
}

}  // namespace vatom
