/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A text polkit agent for the time of a call, as systemctl starts one: when
 * standard input is a terminal, pkttyagent(1) is started for our session
 * so that polkit can ask for a password there when a call carries
 * ALLOW_INTERACTIVE_AUTHORIZATION and no graphical agent runs.
 */

#include <sys/types.h>

typedef struct PolkitAgent {
        pid_t pid;      /* 0: none started */
} PolkitAgent;

/* Starts the agent and waits until it is registered. Returns 1 if started,
 * 0 if not (no terminal, no pkttyagent), or a negative errno (logged). */
int polkit_agent_open(PolkitAgent *a);

/* Stops the agent, if one was started. */
void polkit_agent_close(PolkitAgent *a);
