/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Frames and memory blocks for the KSM kselftests: the frames a region of
 * the caller maps, steering new pages into a range of frames (a filler,
 * on one CPU, bound to one node), and the memory blocks of the movable
 * zone that can go offline. Nothing here touches KSM.
 */
#ifndef KSM_MEMBLOCK_H
#define KSM_MEMBLOCK_H

#include <stdbool.h>
#include <stddef.h>

#define MEMDIR		"/sys/devices/system/memory"

/* The caller's memory policy: bound to node, or the default if < 0. */
int bind_to_node(int node);
/* The caller kept to the CPU it runs on; 0 or -errno. */
int pin_to_one_cpu(void);

/*
 * Where new anonymous pages land. The page allocator hands out the frames
 * of a node in no order a test can count on, and each CPU keeps lists of
 * free pages of its own, which it hands out first: thousands of pages at
 * times (6.12 sizes them to the traffic), of any frames, the page freed
 * last going out first. So a test that needs its pages in a given range
 * of frames runs on one CPU (and so do the holders it forks), binds to
 * the node, takes memory until it holds enough frames of that range (a
 * filler), and frees those just before the pages it is for are
 * allocated: they are then at the head of its CPU's list.
 */
struct filler {
	char *base;
	size_t pages;		/* mapped */
	size_t taken;		/* touched, from the start */
	unsigned long *pfn;	/* frame of each page touched */
};

/*
 * Takes up to max pages until want of them are frames of [lo, hi) (all
 * max if the range is empty); 0, -ENOSPC or -errno.
 */
int filler_take_until(struct filler *f, size_t max, unsigned long lo,
		      unsigned long hi, size_t want);
/* Frees the filler's pages keep() says no to. */
void filler_free_but(struct filler *f,
		     bool (*keep)(size_t i, unsigned long pfn, void *arg),
		     void *arg);
/* Frees n of the filler's pages that are frames of [lo, hi). */
void filler_free_in(struct filler *f, unsigned long lo, unsigned long hi,
		    size_t n);
void filler_release(struct filler *f);
/* The frames of node's highest zone with memory; 0 or -ENOENT. */
int top_zone_of(int node, unsigned long *start, unsigned long *end);

/*
 * Memory offlining. A block can go offline if it is online, wholly in
 * ZONE_MOVABLE and holds no reserved frame and no hole: boot-time
 * allocations can sit in ZONE_MOVABLE (the page allocator refuses to
 * isolate them, see has_unmovable_pages()), and a block with a hole is
 * refused as such.
 */
struct mem_block {
	int id;
	int node;
	unsigned long start, end;	/* frames [start, end) */
};

/* A file of block id into buf; 0 or -errno. */
int block_read(int id, const char *file, char *buf, size_t len);
/* The NUMA node of block id, or -1. */
int block_node(int id);
/* Whether every frame of [start, end) exists and none is reserved. */
bool frames_offlinable(unsigned long start, unsigned long end);
/*
 * Up to max blocks that can go offline into b[]: how many; *movable
 * counts the blocks of ZONE_MOVABLE.
 */
int offlinable_blocks(struct mem_block *b, int max, int *movable);
/* Writes the state of block id; 0 or -errno. */
int block_set_state(int id, const char *state);
/* The block of b[0..n) that holds frame pfn, or NULL. */
const struct mem_block *block_of(const struct mem_block *b, int n,
				 unsigned long pfn);

#endif /* KSM_MEMBLOCK_H */
