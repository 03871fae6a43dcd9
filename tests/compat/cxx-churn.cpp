// SPDX-License-Identifier: MIT
// Compatibility workload: a multi-threaded C++ program whose output depends only on its input, so that a
// run under LD_PRELOAD=liboomless.so must print exactly what a plain run prints. It churns std::string,
// std::vector, std::map and std::unordered_map, hands heap objects to another thread to be deleted there,
// and uses over-aligned new (alignas 64 and 4096), which libstdc++ serves through aligned_alloc.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace
{

constexpr int kThreads = 4;

struct alignas(64) Line {
        uint64_t v[8];
};

struct alignas(4096) Page {
        unsigned char bytes[4096];
};

struct Mailbox {
        std::mutex m;
        std::condition_variable cv;
        std::deque<std::unique_ptr<std::string>> items;
};

uint64_t next(uint64_t &s)
{
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
}

uint64_t fnv(const std::string &s, uint64_t h)
{
        for (unsigned char c : s)
                h = (h ^ c) * 1099511628211ULL;
        return h;
}

struct Result {
        uint64_t local = 0;
        uint64_t received = 0;
        uint64_t misaligned = 0;
};

void worker(int id, int rounds, std::vector<Mailbox> &boxes, Result &out)
{
        uint64_t seed = 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(id + 1);
        std::map<std::string, std::vector<int>> tree;
        std::unordered_map<uint64_t, std::string> table;
        uint64_t h = 1469598103934665603ULL;
        Mailbox &to = boxes[(id + 1) % kThreads];

        for (int r = 0; r < rounds; r++) {
                uint64_t x = next(seed);
                std::string key = "k" + std::to_string(x % 5000);
                auto &vec = tree[key];
                for (int i = 0; i < static_cast<int>(x % 17); i++)
                        vec.push_back(static_cast<int>(x >> i));
                if (x % 3 == 0)
                        tree.erase(tree.begin());
                table[x % 20000] = std::string(x % 300, static_cast<char>('a' + x % 26));
                if (x % 5 == 0)
                        table.erase((x >> 8) % 20000);

                auto line = std::make_unique<Line>();
                auto page = std::make_unique<Page>();
                if (reinterpret_cast<uintptr_t>(line.get()) % 64 ||
                    reinterpret_cast<uintptr_t>(page.get()) % 4096)
                        out.misaligned++;
                page->bytes[x % 4096] = static_cast<unsigned char>(x);
                line->v[x % 8] = x;
                h = (h ^ page->bytes[x % 4096] ^ line->v[x % 8]) * 1099511628211ULL;

                auto msg = std::make_unique<std::string>(std::to_string(id) + ":" + std::to_string(r) + ":" +
                                                         std::string(x % 200, 'm'));
                {
                        std::lock_guard<std::mutex> lock(to.m);
                        to.items.push_back(std::move(msg));
                }
                to.cv.notify_one();
        }
        for (auto &kv : tree) {
                h = fnv(kv.first, h);
                for (int v : kv.second)
                        h = (h ^ static_cast<uint64_t>(v)) * 1099511628211ULL;
        }
        uint64_t t = 0;
        for (auto &kv : table)
                t += kv.first * 31 + fnv(kv.second, 1469598103934665603ULL);
        out.local = h ^ t;

        // Strings made by the previous thread are freed here: cross-thread deletes.
        Mailbox &mine = boxes[id];
        uint64_t sum = 0;
        for (int got = 0; got < rounds; got++) {
                std::unique_lock<std::mutex> lock(mine.m);
                mine.cv.wait(lock, [&] { return !mine.items.empty(); });
                std::unique_ptr<std::string> s = std::move(mine.items.front());
                mine.items.pop_front();
                lock.unlock();
                sum += fnv(*s, 1469598103934665603ULL);
        }
        out.received = sum;
}

} // namespace

int main(int argc, char **argv)
{
        int rounds = argc > 1 ? std::atoi(argv[1]) : 100000;
        std::vector<Mailbox> boxes(kThreads);
        std::vector<Result> results(kThreads);
        std::vector<std::thread> threads;

        for (int i = 0; i < kThreads; i++)
                threads.emplace_back(worker, i, rounds, std::ref(boxes), std::ref(results[i]));
        for (auto &t : threads)
                t.join();
        // Thread churn: many short-lived threads that allocate and exit, exercising cache hand-back.
        std::atomic<uint64_t> churn{ 0 };
        for (int wave = 0; wave < 20; wave++) {
                std::vector<std::thread> ws;
                for (int i = 0; i < 8; i++)
                        ws.emplace_back([&churn, wave, i] {
                                std::vector<std::string> v;
                                for (int k = 0; k < 500; k++)
                                        v.emplace_back(static_cast<size_t>(k % 90 + 1),
                                                       static_cast<char>('A' + (wave + i) % 26));
                                uint64_t s = 0;
                                for (auto &x : v)
                                        s += x.size() * static_cast<unsigned char>(x[0]);
                                churn += s;
                        });
                for (auto &t : ws)
                        t.join();
        }
        for (int i = 0; i < kThreads; i++)
                std::printf("thread %d: local %016llx received %016llx misaligned %llu\n", i,
                            static_cast<unsigned long long>(results[i].local),
                            static_cast<unsigned long long>(results[i].received),
                            static_cast<unsigned long long>(results[i].misaligned));
        std::printf("churn %llu\n", static_cast<unsigned long long>(churn.load()));
        return 0;
}
