#include "data/toy.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>

#include "core/error.h"
#include "core/rng.h"

namespace fcnlab {
namespace {

constexpr double kPi = 3.14159265358979323846;

struct Rgb {
  double r, g, b;
};

// Plane of per-pixel floats.
struct Plane {
  int w, h;
  std::vector<double> v;
  Plane(int w_, int h_, double fill = 0.0) : w(w_), h(h_), v(static_cast<std::size_t>(w_ * h_), fill) {}
  double& at(int y, int x) { return v[static_cast<std::size_t>(y * w + x)]; }
};

// Smooth value noise in [-1, 1]: random values on a grid with `cell` px spacing, smoothstep-interpolated.
Plane value_noise(Rng& rng, int w, int h, double cell) {
  const int gw = static_cast<int>(w / cell) + 2, gh = static_cast<int>(h / cell) + 2;
  std::vector<double> grid(static_cast<std::size_t>(gw * gh));
  for (auto& g : grid) g = rng.uniform(-1.0, 1.0);
  Plane p(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double fx = (x + 0.5) / cell, fy = (y + 0.5) / cell;
      const int ix = static_cast<int>(fx), iy = static_cast<int>(fy);
      double tx = fx - ix, ty = fy - iy;
      tx = tx * tx * (3 - 2 * tx);
      ty = ty * ty * (3 - 2 * ty);
      auto g = [&](int gx, int gy) { return grid[static_cast<std::size_t>(gy * gw + gx)]; };
      const double top = g(ix, iy) * (1 - tx) + g(ix + 1, iy) * tx;
      const double bot = g(ix, iy + 1) * (1 - tx) + g(ix + 1, iy + 1) * tx;
      p.at(y, x) = top * (1 - ty) + bot * ty;
    }
  return p;
}

// Class appearance: a saturated colour and a binary/continuous pattern in [0, 1].
struct ClassStyle {
  Rgb colour;
  int pattern;  // 0 stripes, 1 checker, 2 dots, 3 pixel noise, 4 fine stripes, 5 coarse checker
  double angle;
};

ClassStyle class_style(int k) {  // k >= 1
  static const std::array<Rgb, 6> base{{{0.85, 0.20, 0.20},
                                        {0.20, 0.75, 0.25},
                                        {0.20, 0.30, 0.90},
                                        {0.90, 0.85, 0.20},
                                        {0.80, 0.25, 0.80},
                                        {0.20, 0.80, 0.85}}};
  const int i = (k - 1) % 6, round = (k - 1) / 6;
  Rgb c = base[static_cast<std::size_t>((i + round) % 6)];
  if (round > 0) {  // further classes: darker variants with another pattern/colour pairing
    const double f = 1.0 - 0.2 * round;
    c = {c.r * f + 0.1 * round, c.g * f, c.b * f + 0.05 * round};
  }
  return {c, i, (k * 37 % 180) * kPi / 180.0};
}

double pattern_value(const ClassStyle& s, int x, int y, Rng& pixel_rng) {
  const double ca = std::cos(s.angle), sa = std::sin(s.angle);
  const double u = x * ca + y * sa;
  switch (s.pattern) {
    case 0:
      return std::fmod(std::floor(u / 3.0), 2.0) == 0.0 ? 1.0 : 0.0;  // stripes, period 6
    case 1:
      return ((x / 3) + (y / 3)) % 2 == 0 ? 1.0 : 0.0;  // checker, 3 px
    case 2: {                                           // dots on a 5-px grid
      const int dx = x % 5 - 2, dy = y % 5 - 2;
      return dx * dx + dy * dy <= 2 ? 1.0 : 0.0;
    }
    case 3:
      return pixel_rng.uniform();  // pixel noise
    case 4:
      return (static_cast<long>(std::floor(u / 2.0)) & 1) ? 1.0 : 0.0;  // fine stripes, period 4
    default:
      return ((x / 6) + (y / 6)) % 2 == 0 ? 1.0 : 0.0;  // coarse checker, 6 px
  }
}

enum class Shape { ellipse, rect, triangle, ring, bar, disc };

struct Object {
  Shape shape;
  int cls;
  double cx, cy, a, b, theta, r_in, r_out;
  std::array<double, 6> tri;  // triangle vertices
};

Shape draw_shape(Rng& rng) {
  const double u = rng.uniform();
  if (u < 0.20) return Shape::ellipse;
  if (u < 0.35) return Shape::rect;
  if (u < 0.50) return Shape::triangle;
  if (u < 0.65) return Shape::ring;
  if (u < 0.85) return Shape::bar;
  return Shape::disc;
}

double cross(double ax, double ay, double bx, double by, double px, double py) {
  return (bx - ax) * (py - ay) - (by - ay) * (px - ax);
}

bool inside(const Object& o, double px, double py) {
  const double dx = px - o.cx, dy = py - o.cy;
  const double c = std::cos(o.theta), s = std::sin(o.theta);
  const double u = dx * c + dy * s, v = -dx * s + dy * c;
  switch (o.shape) {
    case Shape::ellipse:
      return (u * u) / (o.a * o.a) + (v * v) / (o.b * o.b) <= 1.0;
    case Shape::rect:
    case Shape::bar:
      return std::abs(u) <= o.a && std::abs(v) <= o.b;
    case Shape::ring: {
      const double d2 = dx * dx + dy * dy;
      return d2 >= o.r_in * o.r_in && d2 <= o.r_out * o.r_out;
    }
    case Shape::disc:
      return dx * dx + dy * dy <= o.r_out * o.r_out;
    case Shape::triangle: {
      const auto& t = o.tri;
      const double d1 = cross(t[0], t[1], t[2], t[3], px, py), d2 = cross(t[2], t[3], t[4], t[5], px, py),
                   d3 = cross(t[4], t[5], t[0], t[1], px, py);
      return (d1 >= 0 && d2 >= 0 && d3 >= 0) || (d1 <= 0 && d2 <= 0 && d3 <= 0);
    }
  }
  return false;
}

Object draw_object(Rng& rng, int width, int height, int classes) {
  const double k = std::min(width, height) / 96.0;  // shape sizes are specified for 96-px images
  Object o{};
  o.shape = draw_shape(rng);
  o.cls = 1 + static_cast<int>(rng.below(static_cast<std::uint64_t>(classes - 1)));
  o.cx = rng.uniform(0.1, 0.9) * width;
  o.cy = rng.uniform(0.1, 0.9) * height;
  o.theta = rng.uniform(0.0, kPi);
  switch (o.shape) {
    case Shape::ellipse:
    case Shape::rect:
      o.a = rng.uniform(14, 36) * k * (o.shape == Shape::rect ? 0.8 : 1.0);
      o.b = rng.uniform(14, 36) * k * (o.shape == Shape::rect ? 0.8 : 1.0);
      break;
    case Shape::triangle: {
      const double r = rng.uniform(16, 36) * k;
      for (int i = 0; i < 3; ++i) {
        const double ang = o.theta + 2 * kPi * i / 3 + rng.uniform(-0.3, 0.3);
        const double ri = r * rng.uniform(0.8, 1.1);
        o.tri[static_cast<std::size_t>(2 * i)] = o.cx + ri * std::cos(ang);
        o.tri[static_cast<std::size_t>(2 * i + 1)] = o.cy + ri * std::sin(ang);
      }
      break;
    }
    case Shape::ring:
      o.r_out = rng.uniform(14, 40) * k;
      o.r_in = o.r_out - rng.uniform(2, 4) * k;
      break;
    case Shape::bar:
      o.a = rng.uniform(20, 70) * k / 2;
      o.b = rng.uniform(2, 4) * k / 2;
      break;
    case Shape::disc:
      o.r_out = rng.uniform(2.5, 5.5) * k;
      break;
  }
  return o;
}

std::uint8_t to_byte(double v) {
  const double c = std::clamp(v, 0.0, 1.0) * 255.0 + 0.5;
  return static_cast<std::uint8_t>(static_cast<int>(c));
}

}  // namespace

std::vector<std::string> toy_class_names(int classes) {
  static const char* const names[] = {"striped", "checkered", "dotted", "speckled", "pinstriped", "tiled"};
  std::vector<std::string> out{"background"};
  for (int k = 1; k < classes; ++k) {
    const int i = (k - 1) % 6, round = (k - 1) / 6;
    out.push_back(round == 0 ? names[i] : fmt::format("{}{}", names[i], round + 1));
  }
  return out;
}

ToyImage make_toy_image(const ToyOptions& opt, int split, int index) {
  const int w = opt.width, h = opt.height;
  Rng rng(opt.seed, 0x70790000ull + static_cast<std::uint64_t>(split), static_cast<std::uint64_t>(index));
  // ---- background: grey + smooth brightness + weak colour blobs + grain
  const double grey = rng.uniform(0.3, 0.7);
  const Plane bright = value_noise(rng, w, h, 24.0);
  const Plane blob_r = value_noise(rng, w, h, 32.0), blob_g = value_noise(rng, w, h, 32.0),
              blob_b = value_noise(rng, w, h, 32.0);
  Plane r(w, h), g(w, h), b(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double base = grey + 0.12 * bright.v[static_cast<std::size_t>(y * w + x)];
      const double grain = rng.uniform(-0.06, 0.06);
      const std::size_t i = static_cast<std::size_t>(y * w + x);
      r.v[i] = base + 0.05 * blob_r.v[i] + grain;
      g.v[i] = base + 0.05 * blob_g.v[i] + grain;
      b.v[i] = base + 0.05 * blob_b.v[i] + grain;
    }
  // ---- objects, painted in order (later ones occlude earlier ones); z = object number, 0 = background
  const int count = rng.between(2, 5);
  std::vector<int> z(static_cast<std::size_t>(w * h), 0);
  std::vector<std::uint8_t> cls(static_cast<std::size_t>(w * h), 0);
  for (int oi = 1; oi <= count; ++oi) {
    const Object o = draw_object(rng, w, h, opt.classes);
    const ClassStyle st = class_style(o.cls);
    const double scale = rng.uniform(0.8, 1.15);
    const Rgb col{std::clamp(st.colour.r * scale + rng.uniform(-0.12, 0.12), 0.0, 1.0),
                  std::clamp(st.colour.g * scale + rng.uniform(-0.12, 0.12), 0.0, 1.0),
                  std::clamp(st.colour.b * scale + rng.uniform(-0.12, 0.12), 0.0, 1.0)};
    Rng pixel_rng(opt.seed, 0x70780000ull + static_cast<std::uint64_t>(split), static_cast<std::uint64_t>(index),
                  static_cast<std::uint64_t>(oi));
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        if (!inside(o, x + 0.5, y + 0.5)) continue;
        const std::size_t i = static_cast<std::size_t>(y * w + x);
        const double m = 0.7 + 0.6 * pattern_value(st, x, y, pixel_rng);  // amplitude 0.3 around 1
        r.v[i] = col.r * m;
        g.v[i] = col.g * m;
        b.v[i] = col.b * m;
        z[i] = oi;
        cls[i] = static_cast<std::uint8_t>(o.cls);
      }
  }
  // ---- blur (Gaussian, sigma 0.5, 3 taps) + noise 0.02
  const double w1 = std::exp(-1.0 / (2 * 0.25)), norm = 1 + 2 * w1;
  const double k0 = 1 / norm, k1 = w1 / norm;
  ToyImage out;
  out.image = make_image(w, h, 3);
  out.label = make_image(w, h, 1);
  for (Plane* p : {&r, &g, &b}) {
    Plane tmp(w, h);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        tmp.at(y, x) = k0 * p->at(y, x) + k1 * (p->at(y, std::max(x - 1, 0)) + p->at(y, std::min(x + 1, w - 1)));
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        p->at(y, x) = k0 * tmp.at(y, x) + k1 * (tmp.at(std::max(y - 1, 0), x) + tmp.at(std::min(y + 1, h - 1), x));
  }
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const std::size_t i = static_cast<std::size_t>(y * w + x);
      out.image.at(y, x, 0) = to_byte(r.v[i] + rng.uniform(-0.02, 0.02));
      out.image.at(y, x, 1) = to_byte(g.v[i] + rng.uniform(-0.02, 0.02));
      out.image.at(y, x, 2) = to_byte(b.v[i] + rng.uniform(-0.02, 0.02));
    }
  // ---- labels with a 1-px void band on the outer side of every edge: a pixel is void when a
  // 4-neighbour belongs to an object painted above it (so thin bars keep all their pixels).
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int zi = z[static_cast<std::size_t>(y * w + x)];
      bool edge = false;
      const int nb[4][2] = {{-1, 0}, {1, 0}, {0, -1}, {0, 1}};
      for (const auto& d : nb) {
        const int yy = y + d[0], xx = x + d[1];
        if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
        if (z[static_cast<std::size_t>(yy * w + xx)] > zi) edge = true;
      }
      out.label.at(y, x) = edge ? 255 : cls[static_cast<std::size_t>(y * w + x)];
    }
  return out;
}

namespace {
void write_text(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw IoError(fmt::format("cannot write {}", file.string()));
}
}  // namespace

ToySummary make_toy(const ToyOptions& opt) {
  namespace fs = std::filesystem;
  if (opt.train < 1 || opt.val < 1 || opt.train > 1000000 || opt.val > 1000000)
    throw ConfigError(
        fmt::format("make-toy: --train and --val must be in [1, 1000000], got {} and {}", opt.train, opt.val));
  if (opt.width < 32 || opt.width > 2048 || opt.height < 32 || opt.height > 2048)
    throw ConfigError(
        fmt::format("make-toy: --size must be in [32, 2048] on each side, got {}x{}", opt.width, opt.height));
  if (opt.classes < 2 || opt.classes > 21)
    throw ConfigError(fmt::format("make-toy: --classes must be in [2, 21] (background included), got {}", opt.classes));
  std::error_code ec;
  if (fs::exists(opt.out, ec)) {
    if (!fs::is_directory(opt.out))
      throw IoError(fmt::format("make-toy: {} exists and is not a folder", opt.out.string()));
    const bool empty = fs::is_empty(opt.out, ec);
    if (!empty && !fs::exists(opt.out / "classes.txt"))
      throw IoError(
          fmt::format("make-toy: {} is not empty and holds no toy set (no classes.txt); refusing to overwrite it",
                      opt.out.string()));
    for (const char* sub : {"JPEGImages", "SegmentationClass", "ImageSets", "classes.txt"})
      fs::remove_all(opt.out / sub, ec);
  }
  for (const char* sub : {"JPEGImages", "SegmentationClass", "ImageSets/Segmentation"}) {
    fs::create_directories(opt.out / sub, ec);
    if (ec) throw IoError(fmt::format("make-toy: cannot create {}: {}", (opt.out / sub).string(), ec.message()));
  }
  ToySummary sum;
  sum.class_pixels.assign(static_cast<std::size_t>(opt.classes), 0);
  std::string lists[2], trainval;
  const int counts[2] = {opt.train, opt.val};
  const char* names[2] = {"train", "val"};
  for (int split = 0; split < 2; ++split)
    for (int i = 0; i < counts[split]; ++i) {
      const std::string id = fmt::format("{}_{:06d}", names[split], i);
      const ToyImage t = make_toy_image(opt, split, i);
      write_jpeg(opt.out / "JPEGImages" / (id + ".jpg"), t.image, 95);
      write_png_label(opt.out / "SegmentationClass" / (id + ".png"), t.label);
      lists[split] += id + "\n";
      for (auto v : t.label.pixels) {
        if (v == 255)
          ++sum.void_pixels;
        else
          ++sum.class_pixels[v];
      }
      sum.total_pixels += t.label.pixels.size();
      ++sum.images;
    }
  write_text(opt.out / "ImageSets/Segmentation/train.txt", lists[0]);
  write_text(opt.out / "ImageSets/Segmentation/val.txt", lists[1]);
  write_text(opt.out / "ImageSets/Segmentation/trainval.txt", lists[0] + lists[1]);
  std::string cls;
  for (const auto& n : toy_class_names(opt.classes)) cls += n + "\n";
  write_text(opt.out / "classes.txt", cls);
  return sum;
}

}  // namespace fcnlab
