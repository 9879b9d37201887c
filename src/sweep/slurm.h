#pragma once
// The SLURM launcher: a sweep becomes one job array whose task K runs
// `fcnlab sweep <same sweep> --task K` (K = the run's index in the sweep). Only unfinished runs are
// in the array; finished ones are skipped and runs with a checkpoint resume, so resubmitting the
// same sweep completes it. Torch-free; talks to SLURM only through sbatch/squeue/sacct/scontrol.
//
// Signals: the script asks SLURM for SIGUSR1 `signal_seconds` before the time limit
// (`--signal=B:USR1@S`, delivered to the batch shell). The shell forwards SIGTERM to fcnlab (which
// forwards it to its `fcnlab train` child: checkpoint, exit 1) and then requeues the task
// (`scontrol requeue`), which resumes from the checkpoint. A SIGTERM sent to the batch shell
// (`scancel --batch --signal=TERM`) checkpoints and stops without requeueing: resubmit to resume.
#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sweep/sweep.h"

namespace fcnlab {

enum class Launcher { local, slurm };
std::string_view to_string(Launcher launcher);
Launcher parse_launcher(std::string_view text);  // OptionError ("launcher") naming the allowed values

struct SlurmOptions {
  std::string partition;                 // --partition (empty: the cluster default)
  std::string time;                      // --time, e.g. 04:00:00 or 1-12:00:00 (empty: partition default)
  int gpus_per_task = 0;                 // --gpus-per-task (0: none asked)
  int cpus_per_task = 0;                 // --cpus-per-task (0: SLURM default)
  std::string mem;                       // --mem, e.g. 32G
  int array_parallelism = 0;             // %K on --array (0: no limit)
  int signal_seconds = 300;              // USR1 this long before the time limit
  bool requeue = true;                   // requeue the task after the time-limit signal
  std::vector<std::string> sbatch_args;  // extra #SBATCH lines, e.g. --account=abc
};

// What each array task runs: `<exe> sweep <sweep_args...> --task $SLURM_ARRAY_TASK_ID`, in `workdir`.
struct SlurmJob {
  std::filesystem::path exe;            // absolute path of the fcnlab binary
  std::filesystem::path workdir;        // absolute; relative paths in configs resolve from here
  std::vector<std::string> sweep_args;  // reproduce the spec: sweep file (absolute) or --config/--name, overrides
  std::vector<std::size_t> tasks;       // run indices in the array
};

// POSIX-shell quoting: words of safe characters unchanged, anything else in single quotes.
std::string shell_quote(std::string_view word);

// "0-3,5,7-8%2": ranges of consecutive indices; %K when parallelism > 0. Indices need not be
// sorted; duplicates are removed. Throws OptionError for parallelism < 0 (and
// invalid_argument when empty: callers submit nothing then).
std::string array_spec(std::vector<std::size_t> indices, int parallelism);

// Run indices whose state is not done (no result file).
std::vector<std::size_t> unfinished_runs(const SweepSpec& spec);

// <experiment_dir>/slurm, absolute.
std::filesystem::path slurm_dir(const SweepSpec& spec);

// Checks the options (time/mem formats, counts, no newlines); throws OptionError naming the field.
void validate(const SlurmOptions& options);

// The sbatch script (bash) for `job`.
std::string make_sbatch_script(const SweepSpec& spec, const SlurmJob& job, const SlurmOptions& options);

// The task-to-run table: "task  state  run_id  axes".
std::string task_table(const SweepSpec& spec, const std::vector<std::size_t>& tasks);

// Writes the script to <slurm_dir>/sweep-<UTC timestamp>[-n].sbatch and returns its path.
std::filesystem::path write_sbatch_script(const SweepSpec& spec, const std::string& script);

// Runs `sbatch --parsable SCRIPT` and returns the job id; Error with sbatch's output on failure.
std::string submit_sbatch(const std::filesystem::path& script);

// Appends one line per task to <slurm_dir>/jobs.tsv: job_id, task, run_id, UTC time, script.
void record_submission(const SweepSpec& spec, const std::string& job_id, const std::vector<std::size_t>& tasks,
                       const std::filesystem::path& script);

struct SubmittedTask {
  std::string job_id;  // the array job id
  std::size_t task = 0;
  std::string run_id;
  std::string submitted_utc;
};
// The newest submission of each run id recorded in jobs.tsv (empty when there is none).
std::map<std::string, SubmittedTask> read_submissions(const std::filesystem::path& jobs_tsv);

// True when `program` is an executable file in PATH.
bool have_program(std::string_view program);

// SLURM states of array tasks, keyed "JOBID_TASK" (squeue -r -t all, then sacct for those squeue
// no longer knows). Tasks neither knows are absent. Empty when neither program exists.
std::map<std::string, std::string> slurm_task_states(const std::vector<std::string>& job_ids);

// True for SLURM states of a task that is queued or running (PENDING, RUNNING, REQUEUED, ...).
bool is_active_slurm_state(std::string_view state);

// Run indices whose newest recorded task is queued or running now (per slurm_task_states):
// resubmitting them would train the same run twice at once.
std::vector<std::size_t> active_slurm_runs(const SweepSpec& spec);

}  // namespace fcnlab
