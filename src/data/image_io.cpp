#include "data/image_io.h"

#include <fmt/format.h>
#include <png.h>
#include <turbojpeg.h>

#include <csetjmp>
#include <cstring>
#include <fstream>
#include <memory>

#include "core/error.h"

namespace fcnlab {
namespace {

// Images above this many pixels are refused before any pixel buffer is allocated, so a corrupt
// or hostile header cannot make fcnlab allocate gigabytes (VOC images are about 500x375).
constexpr std::uint64_t kMaxPixels = std::uint64_t{1} << 26;  // 67 megapixels
void check_pixel_count(const std::string& name, const char* kind, std::uint64_t w, std::uint64_t h) {
  if (w * h > kMaxPixels)
    throw DataError(
        fmt::format("{}: {} of {}x{} pixels is larger than the supported {} pixels", name, kind, w, h, kMaxPixels));
}

struct TjDeleter {
  void operator()(void* h) const noexcept {
    if (h) tjDestroy(h);
  }
};
using TjHandle = std::unique_ptr<void, TjDeleter>;

struct TjBufferDeleter {
  void operator()(unsigned char* p) const noexcept { tjFree(p); }
};

void write_bytes(const std::filesystem::path& file, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) throw IoError(fmt::format("cannot open {} for writing", file.string()));
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw IoError(fmt::format("cannot write {}", file.string()));
}

// ---- libpng: errors longjmp back to the setjmp in the function that drives libpng. Those
// functions keep only trivially destructible locals, so no destructor is skipped. ----
struct PngErrorState {
  char message[256] = {0};
};

extern "C" void png_error_to_state(png_structp png, png_const_charp msg) {
  auto* st = static_cast<PngErrorState*>(png_get_error_ptr(png));
  std::snprintf(st->message, sizeof st->message, "%s", msg ? msg : "libpng error");
  png_longjmp(png, 1);
}
extern "C" void png_warning_ignore(png_structp, png_const_charp) {}

struct MemReader {
  const std::uint8_t* data;
  std::size_t size;
  std::size_t pos;
};
extern "C" void png_read_mem(png_structp png, png_bytep out, png_size_t n) {
  auto* r = static_cast<MemReader*>(png_get_io_ptr(png));
  if (r->size - r->pos < n) png_error(png, "truncated PNG data (unexpected end of file)");
  std::memcpy(out, r->data + r->pos, n);
  r->pos += n;
}

class PngRead {
 public:
  PngRead() {
    png_ = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err_, png_error_to_state, png_warning_ignore);
    if (png_) info_ = png_create_info_struct(png_);
  }
  ~PngRead() { png_destroy_read_struct(&png_, info_ ? &info_ : nullptr, nullptr); }
  PngRead(const PngRead&) = delete;
  PngRead& operator=(const PngRead&) = delete;
  bool ok() const { return png_ && info_; }

  // Phase 1: header. Returns false on a libpng error (message in err_).
  bool read_header(MemReader* reader, png_uint_32* w, png_uint_32* h, int* depth, int* ctype) {
    if (setjmp(png_jmpbuf(png_))) return false;
    png_set_read_fn(png_, reader, png_read_mem);
    png_read_info(png_, info_);
    int interlace = 0;
    png_get_IHDR(png_, info_, w, h, depth, ctype, &interlace, nullptr, nullptr);
    return true;
  }
  // Phase 2: rows into `rows` (one pointer per row, 1 byte per pixel after packing).
  bool read_rows(png_bytepp rows) {
    if (setjmp(png_jmpbuf(png_))) return false;
    png_set_packing(png_);  // 1/2/4-bit palette indices -> one byte each, values unchanged
    png_set_interlace_handling(png_);
    png_read_update_info(png_, info_);
    png_read_image(png_, rows);
    png_read_end(png_, nullptr);
    return true;
  }
  std::size_t rowbytes() const { return png_get_rowbytes(png_, info_); }
  const char* message() const { return err_.message; }

 private:
  PngErrorState err_;
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

extern "C" void png_write_mem(png_structp png, png_bytep data, png_size_t n) {
  auto* out = static_cast<std::vector<std::uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + n);
}
extern "C" void png_flush_noop(png_structp) {}

class PngWrite {
 public:
  PngWrite() {
    png_ = png_create_write_struct(PNG_LIBPNG_VER_STRING, &err_, png_error_to_state, png_warning_ignore);
    if (png_) info_ = png_create_info_struct(png_);
  }
  ~PngWrite() { png_destroy_write_struct(&png_, info_ ? &info_ : nullptr); }
  PngWrite(const PngWrite&) = delete;
  PngWrite& operator=(const PngWrite&) = delete;
  bool ok() const { return png_ && info_; }

  bool write(std::vector<std::uint8_t>* out, png_uint_32 w, png_uint_32 h, png_const_colorp palette, png_bytepp rows) {
    if (setjmp(png_jmpbuf(png_))) return false;
    png_set_write_fn(png_, out, png_write_mem, png_flush_noop);
    png_set_IHDR(png_, info_, w, h, 8, palette ? PNG_COLOR_TYPE_PALETTE : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (palette) png_set_PLTE(png_, info_, palette, 256);
    png_write_info(png_, info_);
    png_write_image(png_, rows);
    png_write_end(png_, nullptr);
    return true;
  }
  const char* message() const { return err_.message; }

 private:
  PngErrorState err_;
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

}  // namespace

Image8 make_image(int width, int height, int channels, std::uint8_t fill) {
  Image8 im;
  im.width = width;
  im.height = height;
  im.channels = channels;
  im.pixels.assign(
      static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * static_cast<std::size_t>(channels), fill);
  return im;
}

std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) throw DataError(fmt::format("missing file {}", file.string()));
    throw DataError(fmt::format("cannot open {}", file.string()));
  }
  const std::streamoff size = in.tellg();
  if (size < 0) throw DataError(fmt::format("cannot read {}", file.string()));
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), size);
  if (!in) throw DataError(fmt::format("cannot read {}", file.string()));
  return bytes;
}

// ---------------------------------------------------------------- JPEG

Image8 decode_jpeg_rgb(const std::uint8_t* data, std::size_t size, const std::string& name) {
  if (size < 4 || data[0] != 0xFF || data[1] != 0xD8)
    throw DataError(fmt::format("{}: not a JPEG file (no SOI marker)", name));
  TjHandle tj(tjInitDecompress());
  if (!tj) throw DataError(fmt::format("{}: cannot create a TurboJPEG decompressor", name));
  int w = 0, h = 0, subsamp = 0, colorspace = 0;
  // TurboJPEG's API takes non-const buffers in 2.x but never writes them.
  auto* buf = const_cast<unsigned char*>(data);
  const auto len = static_cast<unsigned long>(size);
  if (tjDecompressHeader3(tj.get(), buf, len, &w, &h, &subsamp, &colorspace) != 0)
    throw DataError(fmt::format("{}: undecodable JPEG header ({})", name, tjGetErrorStr2(tj.get())));
  if (w <= 0 || h <= 0) throw DataError(fmt::format("{}: JPEG has empty size {}x{}", name, w, h));
  check_pixel_count(name, "JPEG", static_cast<std::uint64_t>(w), static_cast<std::uint64_t>(h));
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  const int pf = cmyk ? TJPF_CMYK : TJPF_RGB;
  const int px = cmyk ? 4 : 3;
  std::vector<std::uint8_t> raw(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) *
                                static_cast<std::size_t>(px));
  if (tjDecompress2(tj.get(), buf, len, raw.data(), w, 0, h, pf, 0) != 0) {
    const std::string msg = tjGetErrorStr2(tj.get());
    // Fatal errors always fail; of the warnings, truncation ("Premature end of JPEG file",
    // "premature end of data segment") fails, benign ones (extraneous bytes) are accepted.
    if (tjGetErrorCode(tj.get()) != TJERR_WARNING || msg.find("remature end") != std::string::npos)
      throw DataError(fmt::format("{}: undecodable or truncated JPEG ({})", name, msg));
  }
  if (!cmyk) {
    Image8 im;
    im.width = w;
    im.height = h;
    im.channels = 3;
    im.pixels = std::move(raw);
    return im;
  }
  // Adobe CMYK JPEGs store inverted ink values: R = C' * K' / 255 (PIL's "CMYK;I" + cmyk2rgb).
  Image8 im = make_image(w, h, 3);
  const std::size_t n = static_cast<std::size_t>(w) * static_cast<std::size_t>(h);
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned k = raw[4 * i + 3];
    for (std::size_t c = 0; c < 3; ++c)
      im.pixels[3 * i + c] = static_cast<std::uint8_t>((raw[4 * i + c] * k + 127) / 255);
  }
  return im;
}

Image8 read_jpeg_rgb(const std::filesystem::path& file) {
  const auto bytes = read_file_bytes(file);
  return decode_jpeg_rgb(bytes.data(), bytes.size(), file.string());
}

std::vector<std::uint8_t> encode_jpeg(const Image8& image, int quality, bool subsample_420) {
  const int c = image.channels;
  if ((c != 1 && c != 3 && c != 4) || image.width <= 0 || image.height <= 0 ||
      image.pixels.size() !=
          static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height) * static_cast<std::size_t>(c))
    throw IoError(fmt::format("encode_jpeg: expected a non-empty grey, RGB or CMYK image, got {}x{}x{}", image.width,
                              image.height, c));
  const int format = c == 1 ? TJPF_GRAY : c == 3 ? TJPF_RGB : TJPF_CMYK;
  const int sampling = c == 1 ? TJSAMP_GRAY : subsample_420 ? TJSAMP_420 : TJSAMP_444;
  TjHandle tj(tjInitCompress());
  if (!tj) throw IoError("cannot create a TurboJPEG compressor");
  unsigned char* out = nullptr;
  unsigned long out_size = 0;
  const int rc = tjCompress2(tj.get(), image.pixels.data(), image.width, 0, image.height, format, &out, &out_size,
                             sampling, quality, TJFLAG_ACCURATEDCT);
  std::unique_ptr<unsigned char, TjBufferDeleter> owned(out);
  if (rc != 0) throw IoError(fmt::format("JPEG compression failed: {}", tjGetErrorStr2(tj.get())));
  return std::vector<std::uint8_t>(out, out + out_size);
}

void write_jpeg(const std::filesystem::path& file, const Image8& image, int quality) {
  write_bytes(file, encode_jpeg(image, quality));
}

ImageHeader read_jpeg_header(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) throw DataError(fmt::format("missing file {}", file.string()));
    throw DataError(fmt::format("cannot open {}", file.string()));
  }
  auto get = [&]() -> int {
    const int c = in.get();
    if (c == std::char_traits<char>::eof())
      throw DataError(fmt::format("{}: truncated JPEG header (no frame header found)", file.string()));
    return c;
  };
  if (get() != 0xFF || get() != 0xD8)
    throw DataError(fmt::format("{}: not a JPEG file (no SOI marker)", file.string()));
  for (;;) {
    int c = get();
    if (c != 0xFF) throw DataError(fmt::format("{}: corrupt JPEG header (expected a marker)", file.string()));
    do c = get();
    while (c == 0xFF);                                    // fill bytes
    if (c == 0x01 || (c >= 0xD0 && c <= 0xD7)) continue;  // markers without a length
    if (c == 0xD9 || c == 0xDA)
      throw DataError(fmt::format("{}: corrupt JPEG header (no frame header before scan data)", file.string()));
    const int len = (get() << 8) | get();
    if (len < 2) throw DataError(fmt::format("{}: corrupt JPEG header (segment length {})", file.string(), len));
    const bool sof = c >= 0xC0 && c <= 0xCF && c != 0xC4 && c != 0xC8 && c != 0xCC;
    if (sof) {
      get();  // precision
      ImageHeader h;
      h.height = (get() << 8) | get();
      h.width = (get() << 8) | get();
      if (h.width <= 0 || h.height <= 0)
        throw DataError(fmt::format("{}: JPEG has empty size {}x{}", file.string(), h.width, h.height));
      return h;
    }
    in.seekg(len - 2, std::ios::cur);
  }
}

// ---------------------------------------------------------------- PNG

Image8 decode_png_label(const std::uint8_t* data, std::size_t size, const std::string& name) {
  if (size < 8 || png_sig_cmp(data, 0, 8) != 0) throw DataError(fmt::format("{}: not a PNG file", name));
  PngRead png;
  if (!png.ok()) throw DataError(fmt::format("{}: cannot create a libpng reader", name));
  MemReader reader{data, size, 0};
  png_uint_32 w = 0, h = 0;
  int depth = 0, ctype = 0;
  if (!png.read_header(&reader, &w, &h, &depth, &ctype))
    throw DataError(fmt::format("{}: undecodable PNG ({})", name, png.message()));
  const bool palette = ctype == PNG_COLOR_TYPE_PALETTE;
  const bool grey8 = ctype == PNG_COLOR_TYPE_GRAY && depth == 8;
  if (!palette && !grey8) {
    static const char* const kinds[] = {"greyscale", "?", "RGB", "palette", "greyscale+alpha", "?", "RGBA"};
    const char* kind = ctype >= 0 && ctype <= 6 ? kinds[ctype] : "?";
    throw DataError(
        fmt::format("{}: label PNG is {} {}-bit; expected a palette PNG (class indices) or 8-bit "
                    "greyscale",
                    name, kind, depth));
  }
  if (w == 0 || h == 0 || w > (1u << 20) || h > (1u << 20))
    throw DataError(fmt::format("{}: PNG has unsupported size {}x{}", name, w, h));
  check_pixel_count(name, "PNG", w, h);
  Image8 im = make_image(static_cast<int>(w), static_cast<int>(h), 1);
  std::vector<png_bytep> rows(h);
  for (png_uint_32 y = 0; y < h; ++y) rows[y] = im.pixels.data() + static_cast<std::size_t>(y) * w;
  if (!png.read_rows(rows.data()))
    throw DataError(fmt::format("{}: undecodable or truncated PNG ({})", name, png.message()));
  return im;
}

Image8 read_png_label(const std::filesystem::path& file) {
  const auto bytes = read_file_bytes(file);
  return decode_png_label(bytes.data(), bytes.size(), file.string());
}

std::array<std::uint8_t, 3> voc_palette_color(int index) {
  std::array<std::uint8_t, 3> rgb{0, 0, 0};
  int c = index & 0xFF;
  for (int j = 0; j < 8; ++j) {
    for (int ch = 0; ch < 3; ++ch)
      rgb[static_cast<std::size_t>(ch)] =
          static_cast<std::uint8_t>(rgb[static_cast<std::size_t>(ch)] | (((c >> ch) & 1) << (7 - j)));
    c >>= 3;
  }
  return rgb;
}

std::vector<std::uint8_t> encode_png_label(const Image8& labels, bool voc_palette) {
  if (labels.channels != 1 || labels.width <= 0 || labels.height <= 0 ||
      labels.pixels.size() != static_cast<std::size_t>(labels.width) * static_cast<std::size_t>(labels.height))
    throw IoError(fmt::format("encode_png_label: expected a non-empty 1-channel label map, got {}x{}x{}", labels.width,
                              labels.height, labels.channels));
  std::array<png_color, 256> pal{};
  for (int i = 0; i < 256; ++i) {
    const auto c = voc_palette_color(i);
    pal[static_cast<std::size_t>(i)] = png_color{c[0], c[1], c[2]};
  }
  std::vector<png_bytep> rows(static_cast<std::size_t>(labels.height));
  auto* base = const_cast<std::uint8_t*>(labels.pixels.data());  // libpng only reads rows when writing
  for (std::size_t y = 0; y < rows.size(); ++y) rows[y] = base + y * static_cast<std::size_t>(labels.width);
  std::vector<std::uint8_t> out;
  PngWrite png;
  if (!png.ok()) throw IoError("cannot create a libpng writer");
  if (!png.write(&out, static_cast<png_uint_32>(labels.width), static_cast<png_uint_32>(labels.height),
                 voc_palette ? pal.data() : nullptr, rows.data()))
    throw IoError(fmt::format("PNG encoding failed: {}", png.message()));
  return out;
}

void write_png_label(const std::filesystem::path& file, const Image8& labels, bool voc_palette) {
  write_bytes(file, encode_png_label(labels, voc_palette));
}

PngHeader read_png_header(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) throw DataError(fmt::format("missing file {}", file.string()));
    throw DataError(fmt::format("cannot open {}", file.string()));
  }
  std::array<unsigned char, 26> b{};
  in.read(reinterpret_cast<char*>(b.data()), static_cast<std::streamsize>(b.size()));
  if (!in || png_sig_cmp(b.data(), 0, 8) != 0 || std::memcmp(b.data() + 12, "IHDR", 4) != 0)
    throw DataError(fmt::format("{}: not a PNG file (bad signature or IHDR)", file.string()));
  auto be32 = [&](std::size_t o) {
    return static_cast<int>((std::uint32_t{b[o]} << 24) | (std::uint32_t{b[o + 1]} << 16) |
                            (std::uint32_t{b[o + 2]} << 8) | std::uint32_t{b[o + 3]});
  };
  PngHeader h;
  h.width = be32(16);
  h.height = be32(20);
  h.bit_depth = b[24];
  h.color_type = b[25];
  return h;
}

}  // namespace fcnlab
