//! Speed and memory of the orphan decision at scale.
//!
//! `cargo bench -p gateway --bench classify` prints, for worlds of growing
//! size, the time of one `classify` call (median of several) and the peak
//! heap it allocates, counted by a wrapping global allocator. Figures are
//! recorded in BENCHMARKS.md. Nothing here asserts a time.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use gateway::orphan::{
    classify, BindingSeen, CcSnapshot, InstanceSeen, InstanceState, NodeListing, Observation,
    Policy,
};

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// `nodes` nodes of `per_node` instances with two bindings each; 1% of
/// instances and 1% of bindings are unknown to the CC.
fn world(nodes: usize, per_node: usize) -> Observation {
    let mut cc = CcSnapshot::default();
    let mut listings = BTreeMap::new();
    for n in 0..nodes {
        let mut instances = Vec::with_capacity(per_node);
        let mut bindings = Vec::with_capacity(per_node * 2);
        for i in 0..per_node {
            let id = format!("{n:04}-{i:08}-4c1f0a2e-5b6d-4e8f-9a0b");
            let orphan_instance = i % 100 == 0;
            for b in 0..2 {
                let bid = format!("{id}-b{b}");
                if !orphan_instance && (i % 100 != 1 || b == 0) {
                    cc.bindings.insert(bid.clone(), id.clone());
                }
                bindings.push(BindingSeen {
                    instance_id: id.clone(),
                    binding_id: bid.clone(),
                    username: bid,
                    created_at: 1_000,
                    present_on_server: true,
                });
            }
            if !orphan_instance {
                cc.instances.insert(id.clone());
            }
            instances.push(InstanceSeen {
                id,
                created_at: 1_000,
                state: InstanceState::Running,
            });
        }
        listings.insert(
            format!("node_{n}"),
            NodeListing::Complete {
                instances,
                bindings,
            },
        );
    }
    Observation {
        cc,
        nodes: listings,
    }
}

fn main() {
    println!(
        "{:>6} {:>9} {:>10} {:>12} {:>12} {:>9} {:>9}",
        "nodes", "per_node", "instances", "median_ms", "peak_heap_mb", "orphan_i", "orphan_b"
    );
    for (nodes, per_node) in [(2, 100), (10, 1_000), (20, 5_000), (50, 10_000)] {
        let first = world(nodes, per_node);
        let second = first.clone();
        let mut times = Vec::new();
        let mut peak = 0;
        let mut found = (0, 0);
        for _ in 0..5 {
            let base = CURRENT.load(Ordering::Relaxed);
            PEAK.store(base, Ordering::Relaxed);
            let t = Instant::now();
            let v = classify(
                &first,
                &second,
                10_000,
                Policy {
                    grace: 60,
                    max_orphan_fraction: 0.5,
                },
            );
            times.push(t.elapsed().as_secs_f64() * 1e3);
            peak = peak.max(PEAK.load(Ordering::Relaxed) - base);
            found = (
                v.orphan_instances.values().map(Vec::len).sum::<usize>(),
                v.orphan_bindings.values().map(Vec::len).sum::<usize>(),
            );
            std::hint::black_box(v);
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "{nodes:>6} {per_node:>9} {:>10} {:>12.2} {:>12.1} {:>9} {:>9}",
            nodes * per_node,
            times[times.len() / 2],
            peak as f64 / (1024.0 * 1024.0),
            found.0,
            found.1
        );
    }
}
