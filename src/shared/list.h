/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Intrusive doubly-linked lists, in the style of systemd's list.h: an item
 * embeds LIST_FIELDS(type, name) and the list is a plain "type *head".
 */

#include <assert.h>
#include <stddef.h>

#define LIST_FIELDS(t, name) t *name##_next, *name##_prev

#define LIST_INIT(name, item)                                           \
        do {                                                            \
                typeof(*(item)) *_item_ = (item);                       \
                _item_->name##_prev = _item_->name##_next = NULL;       \
        } while (0)

/* Adds @item at the front of the list @head. */
#define LIST_PREPEND(name, head, item)                                  \
        do {                                                            \
                typeof(*(head)) **_head_ = &(head), *_item_ = (item);   \
                _item_->name##_next = *_head_;                          \
                if (_item_->name##_next)                                \
                        _item_->name##_next->name##_prev = _item_;      \
                _item_->name##_prev = NULL;                             \
                *_head_ = _item_;                                       \
        } while (0)

/* Adds @item at the end of the list @head (walks the list). */
#define LIST_APPEND(name, head, item)                                   \
        do {                                                            \
                typeof(*(head)) **_head_ = &(head), *_item_ = (item), *_tail_ = *_head_; \
                _item_->name##_next = NULL;                             \
                if (!_tail_) {                                          \
                        _item_->name##_prev = NULL;                     \
                        *_head_ = _item_;                               \
                } else {                                                \
                        while (_tail_->name##_next)                     \
                                _tail_ = _tail_->name##_next;           \
                        _tail_->name##_next = _item_;                   \
                        _item_->name##_prev = _tail_;                   \
                }                                                       \
        } while (0)

/* Unlinks @item from the list @head. */
#define LIST_REMOVE(name, head, item)                                   \
        do {                                                            \
                typeof(*(head)) **_head_ = &(head), *_item_ = (item);   \
                if (_item_->name##_next)                                \
                        _item_->name##_next->name##_prev = _item_->name##_prev; \
                if (_item_->name##_prev)                                \
                        _item_->name##_prev->name##_next = _item_->name##_next; \
                else {                                                  \
                        assert(*_head_ == _item_);                      \
                        *_head_ = _item_->name##_next;                  \
                }                                                       \
                _item_->name##_next = _item_->name##_prev = NULL;       \
        } while (0)

#define LIST_FOREACH(name, i, head) \
        for (typeof(*(head)) *i = (head); i; i = i->name##_next)

/* Safe against removal of the current item. */
#define LIST_FOREACH_SAFE(name, i, n, head) \
        for (typeof(*(head)) *n, *i = (head); i && ((n = i->name##_next), 1); i = n)
