// The build context: walking with .dockerignore, the tar stream, COPY source selection and
// content hashes.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "base/error.h"
#include "build/context.h"
#include "temp_dir_test.h"

namespace berth::build {
namespace {

class Context : public berth::testing::TempDirTest {
 protected:
  void Write(const std::string& rel, const std::string& content, mode_t mode = 0644) {
    std::string full = dir_ + "/" + rel;
    for (size_t s = full.find('/', dir_.size() + 1); s != std::string::npos;
         s = full.find('/', s + 1)) {
      mkdir(full.substr(0, s).c_str(), 0755);
    }
    std::ofstream(full) << content;
    chmod(full.c_str(), mode);
  }
  void Link(const std::string& target, const std::string& rel) {
    ASSERT_EQ(symlink(target.c_str(), (dir_ + "/" + rel).c_str()), 0);
  }
  std::vector<std::string> Paths(const std::vector<ContextEntry>& entries) {
    std::vector<std::string> out;
    for (const ContextEntry& e : entries) out.push_back(e.path + (e.IsDir() ? "/" : ""));
    return out;
  }
  std::string Tar(const std::vector<ContextEntry>& entries) {
    std::string out;
    WriteContextTar(dir_, entries,
                    [&](const void* d, size_t n) { out.append(static_cast<const char*>(d), n); });
    return out;
  }
};

TEST_F(Context, WalkSortedAndIgnored) {
  Write("Dockerfile", "FROM a\n");
  Write(".dockerignore", "*.log\nbuild\n!build/keep.txt\nDockerfile\n.dockerignore\nsecret*\n");
  Write("b.txt", "b");
  Write("a/z.txt", "z");
  Write("a/y.log", "y");
  Write("build/out.o", "o");
  Write("build/keep.txt", "k");
  Write("secret.key", "s");
  Write("x.log", "x");
  Link("b.txt", "link");
  auto entries = WalkContext(dir_, LoadDockerignore(dir_), {"Dockerfile", ".dockerignore"});
  // Depth first in byte order; the excluded build/ is entered for its exception but not sent
  // itself; the Dockerfile and .dockerignore are sent although ignored; "*.log" only matches
  // at the top (a/y.log stays), as in Docker.
  EXPECT_EQ(Paths(entries),
            (std::vector<std::string>{".dockerignore", "Dockerfile", "a/", "a/y.log", "a/z.txt",
                                      "b.txt", "build/keep.txt", "link"}));
  EXPECT_TRUE(S_ISLNK(entries.back().mode));
  EXPECT_EQ(entries.back().link_target, "b.txt");
}

TEST_F(Context, AlwaysSentInsideAnExcludedDirectory) {
  Write(".dockerignore", "build\n");
  Write("build/Dockerfile", "FROM a\n");
  Write("build/other", "x");
  auto entries = WalkContext(dir_, LoadDockerignore(dir_), {"build/Dockerfile", ".dockerignore"});
  EXPECT_EQ(Paths(entries), (std::vector<std::string>{".dockerignore", "build/Dockerfile"}));
}

TEST_F(Context, NoDockerignore) {
  Write("a", "1");
  EXPECT_TRUE(LoadDockerignore(dir_).empty());
  EXPECT_EQ(Paths(WalkContext(dir_, LoadDockerignore(dir_))), std::vector<std::string>{"a"});
}

TEST_F(Context, BadDockerignore) {
  Write(".dockerignore", "[x\n");
  EXPECT_THROW(LoadDockerignore(dir_), Error);
}

TEST_F(Context, MissingDirectory) {
  EXPECT_THROW(WalkContext(dir_ + "/nope", IgnoreMatcher()), Error);
}

TEST_F(Context, TarRoundTripAndDeterministic) {
  Write("Dockerfile", "FROM a\nCOPY . /\n");
  Write("bin/run.sh", "#!/bin/sh\necho hi\n", 0755);
  Link("../Dockerfile", "bin/df");
  auto entries = WalkContext(dir_, IgnoreMatcher());
  std::string tar = Tar(entries);
  EXPECT_EQ(tar, Tar(entries));
  EXPECT_EQ(tar.size() % 512, 0u);

  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  ASSERT_EQ(archive_read_open_memory(a, tar.data(), tar.size()), ARCHIVE_OK);
  struct archive_entry* e;
  std::vector<std::string> names;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string name = archive_entry_pathname(e);
    names.push_back(name);
    EXPECT_EQ(archive_entry_uid(e), 0);
    EXPECT_EQ(archive_entry_gid(e), 0);
    if (name == "bin/run.sh") {
      EXPECT_EQ(archive_entry_perm(e), 0755);
      std::string body(static_cast<size_t>(archive_entry_size(e)), '\0');
      archive_read_data(a, body.data(), body.size());
      EXPECT_EQ(body, "#!/bin/sh\necho hi\n");
    }
    if (name == "bin/df") {
      EXPECT_STREQ(archive_entry_symlink(e), "../Dockerfile");
    }
  }
  archive_read_free(a);
  EXPECT_EQ(names, (std::vector<std::string>{"Dockerfile", "bin/", "bin/df", "bin/run.sh"}));
}

TEST_F(Context, WriteBuildContext) {
  Write(".dockerignore", "*\n!src\n");
  Write("docker/Dockerfile.dev", "FROM a\n");
  Write("src/main.c", "int main;");
  Write("junk", "j");
  std::string tar;
  WriteBuildContext(dir_, "docker/Dockerfile.dev",
                    [&](const void* d, size_t n) { tar.append(static_cast<const char*>(d), n); });
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  ASSERT_EQ(archive_read_open_memory(a, tar.data(), tar.size()), ARCHIVE_OK);
  struct archive_entry* e;
  std::vector<std::string> names;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) names.push_back(archive_entry_pathname(e));
  archive_read_free(a);
  EXPECT_EQ(names, (std::vector<std::string>{".dockerignore", "docker/Dockerfile.dev", "src/",
                                             "src/main.c"}));
}

TEST_F(Context, TarWriterErrorsPropagate) {
  Write("a", "1");
  auto entries = WalkContext(dir_, IgnoreMatcher());
  EXPECT_THROW(
      WriteContextTar(dir_, entries, [](const void*, size_t) { ThrowInvalid("pipe closed"); }),
      Error);
}

TEST_F(Context, Select) {
  Write("app/main.go", "package main");
  Write("app/lib/x.go", "package lib");
  Write("README.md", "r");
  Write("docs/a.md", "a");
  ContextIndex idx(dir_, WalkContext(dir_, IgnoreMatcher()));
  auto paths = [&](const std::string& src) {
    std::vector<std::string> out;
    for (const ContextEntry* e : idx.Select(src)) out.push_back(e->path);
    return out;
  };
  EXPECT_EQ(paths("README.md"), std::vector<std::string>{"README.md"});
  EXPECT_EQ(paths("/README.md"), std::vector<std::string>{"README.md"});
  EXPECT_EQ(paths("./app"),
            (std::vector<std::string>{"app", "app/lib", "app/lib/x.go", "app/main.go"}));
  EXPECT_EQ(paths("*.md"), std::vector<std::string>{"README.md"});
  EXPECT_EQ(paths("docs/*.md"), std::vector<std::string>{"docs/a.md"});
  EXPECT_EQ(paths(".").size(), 7u);
  try {
    idx.Select("missing.txt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kNotFound);
    EXPECT_STREQ(e.what(),
                 "\"missing.txt\" not found in the build context (or excluded by "
                 ".dockerignore)");
  }
  EXPECT_THROW(idx.Select("*.txt"), Error);
  try {
    idx.Select("../etc/passwd");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kInvalidArgument);
    EXPECT_STREQ(e.what(), "COPY source \"../etc/passwd\" is outside the build context");
  }
  EXPECT_THROW(idx.Select("app/../../x"), Error);
}

TEST_F(Context, SelectWithExcludes) {
  Write("app/main.go", "m");
  Write("app/README.md", "r");
  Write("app/docs/x.md", "x");
  Write("app/test/a_test.go", "t");
  Write("home.txt", "h");
  Write("home.go", "g");
  ContextIndex idx(dir_, WalkContext(dir_, IgnoreMatcher()));
  auto paths = [&](const std::string& src, const std::vector<std::string>& ex) {
    std::vector<std::string> out;
    for (const ContextEntry* e : idx.Select(src, ex)) out.push_back(e->path);
    return out;
  };
  // Patterns are relative to the source: "*.md" is app/README.md, "**/*.md" also app/docs/x.md.
  EXPECT_EQ(paths("app", {"*.md"}),
            (std::vector<std::string>{"app", "app/docs", "app/docs/x.md", "app/main.go", "app/test",
                                      "app/test/a_test.go"}));
  EXPECT_EQ(paths("app", {"**/*.md", "test"}),
            (std::vector<std::string>{"app", "app/docs", "app/main.go"}));
  // A file source is matched by its name (the reference's `COPY --exclude=*.txt hom* /mydir/`).
  EXPECT_EQ(paths("hom*", {"*.txt"}), std::vector<std::string>{"home.go"});
  EXPECT_NE(idx.SourcesDigest({"app"}), idx.SourcesDigest({"app"}, {"*.md"}));
  EXPECT_EQ(idx.SourcesDigest({"app"}, {"*.md"}), idx.SourcesDigest({"app"}, {"README.md"}));
}

TEST_F(Context, IgnoredFilesAreNotSelectable) {
  Write(".dockerignore", "secret\n");
  Write("secret", "s");
  Write("ok", "o");
  ContextIndex idx = ContextIndex::Load(dir_);
  EXPECT_THROW(idx.Select("secret"), Error);
  EXPECT_NO_THROW(idx.Select("ok"));
}

class Digests : public Context {
 protected:
  std::string Digest(const std::vector<std::string>& sources = {"src"}) {
    ContextIndex idx(dir_, WalkContext(dir_, IgnoreMatcher()));
    return idx.SourcesDigest(sources);
  }
};

TEST_F(Digests, StableAndSensitive) {
  Write("src/a.txt", "hello");
  Write("src/b.txt", "world");
  Write("other.txt", "x");
  std::string base = Digest();
  EXPECT_EQ(base, Digest());
  EXPECT_EQ(base.rfind("sha256:", 0), 0u);

  // mtime: no change.
  struct timespec times[2] = {{1000, 0}, {1000, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, (dir_ + "/src/a.txt").c_str(), times, 0), 0);
  EXPECT_EQ(Digest(), base);

  // A file outside the sources: no change.
  Write("other.txt", "changed");
  EXPECT_EQ(Digest(), base);

  // Content.
  Write("src/a.txt", "hellO");
  EXPECT_NE(Digest(), base);
  Write("src/a.txt", "hello");
  EXPECT_EQ(Digest(), base);

  // Mode.
  chmod((dir_ + "/src/a.txt").c_str(), 0600);
  EXPECT_NE(Digest(), base);
  chmod((dir_ + "/src/a.txt").c_str(), 0644);
  EXPECT_EQ(Digest(), base);

  // A new file, a rename.
  Write("src/c.txt", "");
  EXPECT_NE(Digest(), base);
  unlink((dir_ + "/src/c.txt").c_str());
  EXPECT_EQ(Digest(), base);
  rename((dir_ + "/src/b.txt").c_str(), (dir_ + "/src/B.txt").c_str());
  EXPECT_NE(Digest(), base);
  rename((dir_ + "/src/B.txt").c_str(), (dir_ + "/src/b.txt").c_str());
  EXPECT_EQ(Digest(), base);

  // A symlink and its target.
  Link("a.txt", "src/l");
  std::string with_link = Digest();
  EXPECT_NE(with_link, base);
  unlink((dir_ + "/src/l").c_str());
  Link("b.txt", "src/l");
  EXPECT_NE(Digest(), with_link);
}

TEST_F(Digests, SourcesOrderAndOverlapDoNotMatter) {
  Write("a", "1");
  Write("b", "2");
  EXPECT_EQ(Digest({"a", "b"}), Digest({"b", "a"}));
  EXPECT_EQ(Digest({"a", "b", "a"}), Digest({"a", "b"}));
  EXPECT_NE(Digest({"a"}), Digest({"b"}));
}

TEST_F(Digests, EntryDigestCoversOwnerNotMtime) {
  Write("f", "x");
  std::vector<ContextEntry> entries = WalkContext(dir_, IgnoreMatcher());
  std::string d = ContextIndex(dir_, entries).EntryDigest(entries[0]);
  std::vector<ContextEntry> owner = entries;
  owner[0].uid += 1;
  EXPECT_NE(ContextIndex(dir_, owner).EntryDigest(owner[0]), d);
  std::vector<ContextEntry> group = entries;
  group[0].gid += 1;
  EXPECT_NE(ContextIndex(dir_, group).EntryDigest(group[0]), d);
  std::vector<ContextEntry> mtime = entries;
  mtime[0].mtime += 100;
  EXPECT_EQ(ContextIndex(dir_, mtime).EntryDigest(mtime[0]), d);
}

}  // namespace
}  // namespace berth::build
