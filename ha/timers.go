package ha

import "time"

// deadlines is the one timer structure for all entries: a binary min-heap
// of entries keyed by Binding.Expires. Every entry is in the heap exactly
// once and remembers its index, so a refresh moves it with fix (O(log n))
// and leaves no stale item behind. There is no runtime timer per binding;
// the shell arms a single timer at NextDeadline.
type deadlines []*entry

func (h deadlines) less(i, j int) bool { return h[i].b.Expires.Before(h[j].b.Expires) }

func (h deadlines) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx = int32(i)
	h[j].hidx = int32(j)
}

func (h *deadlines) push(e *entry) {
	e.hidx = int32(len(*h))
	*h = append(*h, e)
	h.up(int(e.hidx))
}

// remove takes e out of the heap.
func (h *deadlines) remove(e *entry) {
	i := int(e.hidx)
	n := len(*h) - 1
	if i != n {
		h.swap(i, n)
	}
	(*h)[n] = nil
	*h = (*h)[:n]
	e.hidx = -1
	if i != n {
		if !h.down(i) {
			h.up(i)
		}
	}
}

// fix restores the heap after e's deadline changed.
func (h deadlines) fix(e *entry) {
	i := int(e.hidx)
	if !h.down(i) {
		h.up(i)
	}
}

func (h deadlines) min() (time.Time, bool) {
	if len(h) == 0 {
		return time.Time{}, false
	}
	return h[0].b.Expires, true
}

func (h deadlines) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

func (h deadlines) down(i0 int) bool {
	i, n := i0, len(h)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && h.less(r, l) {
			j = r
		}
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}
