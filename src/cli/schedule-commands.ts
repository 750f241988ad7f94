/** schedule create|list|describe|pause|unpause|trigger|delete: rollouts on a calendar. */
import type { Command } from 'commander';
import { createRolloutSchedule, describeRolloutSchedule, parseRolloutInput, triggerRolloutSchedule } from '../client';
import { withClient } from './context';
import { addRolloutOptions, operatorName, rolloutInputFrom } from './options';
import { Output, table } from './output';

export function addScheduleCommands(program: Command): void {
  const schedule = program.command('schedule').description('rollouts on a calendar (Temporal Schedules)');
  addRolloutOptions(
    schedule
      .command('create')
      .description('create a schedule that starts a rollout; overlapping runs are skipped')
      .requiredOption('--id <scheduleId>', 'schedule id')
      .requiredOption(
        '--cron <expression>',
        'cron expression, such as "0 3 * * 3"; repeat for several',
        (v, all: string[] = []) => [...all, v],
      )
      .option('--time-zone <iana>', 'time zone of the cron expression, such as Europe/Berlin')
      .option('--image <id>', 'template image id')
      .option('--image-pattern <regex>', 'the newest Ready image whose name matches, resolved at each run')
      .option('--note <text>', 'a note shown with the schedule')
      .option('--no-pause-on-failure', 'keep starting rollouts on the calendar after one failed (default: pause)'),
  )
    .option('--json', 'print JSON', false)
    .action(async (options, command: Command) => {
      const out = new Output(options.json);
      const rolloutInput = rolloutInputFrom(options, {
        imageId: options.image,
        imageNamePattern: options.imagePattern,
      });
      parseRolloutInput(rolloutInput);
      await withClient(command, async (client, taskQueue) => {
        const handle = await createRolloutSchedule(client, taskQueue, {
          scheduleId: options.id,
          cron: options.cron,
          timeZone: options.timeZone,
          rollout: rolloutInput,
          note: options.note,
          pauseOnFailure: options.pauseOnFailure,
        });
        out.event({ event: 'created', scheduleId: handle.scheduleId }, `created schedule ${handle.scheduleId}`);
      });
    });

  schedule
    .command('list')
    .option('--json', 'print JSON', false)
    .action(async (options, command: Command) => {
      await withClient(command, async (client) => {
        const rows = [];
        for await (const entry of client.schedule.list()) {
          rows.push({ scheduleId: entry.scheduleId, paused: entry.state.paused, next: entry.info.nextActionTimes[0] });
        }
        if (options.json) console.log(JSON.stringify(rows));
        else {
          const lines = rows.map((r) => [r.scheduleId, r.paused ? 'paused' : `next ${r.next?.toISOString() ?? '-'}`]);
          console.log(table(lines) || '(none)');
        }
      });
    });

  schedule
    .command('describe')
    .description('show a schedule: what it rolls out, when, its next and recent runs')
    .argument('<scheduleId>', 'schedule id')
    .option('--json', 'print JSON', false)
    .action(async (scheduleId: string, options, command: Command) => {
      const out = new Output(options.json);
      await withClient(command, async (client) => {
        const s = await describeRolloutSchedule(client, scheduleId);
        out.event(
          { event: 'schedule', ...s },
          table([
            ['schedule', s.scheduleId],
            ['state', s.paused ? `paused${s.note ? `: ${s.note}` : ''}` : `active${s.note ? ` (${s.note})` : ''}`],
            ['when', `${s.cron.join('; ')}${s.timeZone ? ` (${s.timeZone})` : ' (UTC)'}`],
            ['image', s.image ?? (s.imagePattern ? `newest Ready matching /${s.imagePattern}/` : '?')],
            ['catalogs', s.catalogs],
            ['next runs', s.nextRuns.join(', ') || '-'],
            ['running', s.running.join(', ') || '-'],
            ['recent runs', s.recentRuns.map((r) => r.workflowId).join(', ') || '-'],
            ['on failure', s.pauseOnFailure ? 'pauses (unpause once the cause is fixed)' : 'keeps running'],
            ['skipped', `${s.skippedOverlap} (a rollout still ran), ${s.missedCatchupWindow} (missed the window)`],
          ]),
        );
      });
    });

  const act = (name: 'pause' | 'unpause' | 'trigger' | 'delete', description: string) =>
    schedule
      .command(name)
      .description(description)
      .argument('<scheduleId>', 'schedule id')
      .option('--by <name>', 'who does it (recorded in the note)', operatorName())
      .option('--note <text>', 'why (pause and unpause; recorded in the schedule)')
      .option('--json', 'print JSON', false)
      .action(async (scheduleId: string, options, command: Command) => {
        const out = new Output(options.json);
        await withClient(command, async (client) => {
          const handle = client.schedule.getHandle(scheduleId);
          // Without a note the SDK writes its own text over the schedule's note: say who did it instead.
          const note = `${name === 'pause' ? 'paused' : 'unpaused'} by ${options.by}${options.note ? `: ${options.note}` : ''}`;
          if (name === 'pause' || name === 'unpause') await handle[name](note);
          else if (name === 'trigger') await triggerRolloutSchedule(client, scheduleId);
          else await handle.delete();
          out.event({ event: name, scheduleId }, `${name}: ${scheduleId}`);
        });
      });
  act('pause', 'stop starting rollouts until unpaused');
  act('unpause', 'start rollouts on the calendar again');
  act('trigger', 'start a rollout now, unless the last one still runs');
  act('delete', 'delete the schedule (running rollouts go on)');
}
