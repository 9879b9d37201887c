#pragma once
// JPEG and PNG io for VOC-format data, without torch: TurboJPEG for JPEGs, libpng for label PNGs.
// Images are plain row-major HWC byte buffers. Decoding failures (missing, undecodable, truncated,
// unsupported format) throw DataError naming the file; write failures throw IoError.
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace fcnlab {

struct Image8 {
  int width = 0, height = 0, channels = 0;
  std::vector<std::uint8_t> pixels;  // row-major HWC, size width * height * channels
  std::uint8_t& at(int y, int x, int c = 0) {
    return pixels[(static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)) *
                      static_cast<std::size_t>(channels) +
                  static_cast<std::size_t>(c)];
  }
  std::uint8_t at(int y, int x, int c = 0) const {
    return pixels[(static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)) *
                      static_cast<std::size_t>(channels) +
                  static_cast<std::size_t>(c)];
  }
};
Image8 make_image(int width, int height, int channels, std::uint8_t fill = 0);

// The whole file as bytes; DataError naming the file when it is missing or unreadable.
std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& file);

// JPEG -> RGB (3 channels). Greyscale JPEGs are replicated to RGB; CMYK/YCCK JPEGs are converted
// with the Adobe (inverted) convention, as PIL does. Truncated data ("premature end") is an error.
Image8 read_jpeg_rgb(const std::filesystem::path& file);
Image8 decode_jpeg_rgb(const std::uint8_t* data, std::size_t size, const std::string& name);
// Baseline JPEG, 4:2:0 chroma subsampling, accurate DCT, of an image of 3 channels (RGB), 1 (grey)
// or 4 (CMYK, in TurboJPEG's CMYK pixel format). Throws IoError.
void write_jpeg(const std::filesystem::path& file, const Image8& image, int quality = 95);
std::vector<std::uint8_t> encode_jpeg(const Image8& image, int quality = 95, bool subsample_420 = true);

// Label PNG -> class indices (channels = 1). Palette PNGs (any bit depth) are read as their
// indices, never through RGB; 8-bit greyscale PNGs as their values. Anything else is a DataError.
Image8 read_png_label(const std::filesystem::path& file);
Image8 decode_png_label(const std::uint8_t* data, std::size_t size, const std::string& name);
// 8-bit palette PNG carrying the 256-entry VOC colour map (or 8-bit greyscale with
// voc_palette = false). `labels` must have 1 channel. Throws IoError.
void write_png_label(const std::filesystem::path& file, const Image8& labels, bool voc_palette = true);
std::vector<std::uint8_t> encode_png_label(const Image8& labels, bool voc_palette = true);

// The VOC colour map (VOCdevkit's labelcolormap): 0 black, 1 (128,0,0), ..., 255 (224,224,192).
std::array<std::uint8_t, 3> voc_palette_color(int index);

// Cheap header-only reads for the start-up check (no pixel decoding). DataError when the file is
// missing or the header is not a valid JPEG / PNG header.
struct ImageHeader {
  int width = 0, height = 0;
};
ImageHeader read_jpeg_header(const std::filesystem::path& file);
struct PngHeader {
  int width = 0, height = 0, bit_depth = 0, color_type = 0;  // color_type as in the PNG spec (3 = palette, 0 = grey)
};
PngHeader read_png_header(const std::filesystem::path& file);

}  // namespace fcnlab
