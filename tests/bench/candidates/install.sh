#!/bin/bash
# usage: install.sh <name> <pkg> <constrained:yes|no>
set -u
name=$1; pkg=$2; con=$3
V=/tmp/geneval/venv-$name
L=/tmp/geneval/logs/$name
mkdir -p $L
rm -rf $V
python3 -m venv $V
nice -n 19 $V/bin/pip install torch==2.13.0 > $L/torch.log 2>&1; echo "torch rc=$?" > $L/summary.txt
SP=$($V/bin/python -c 'import sysconfig;print(sysconfig.get_paths()["purelib"])')
du -sm $SP | cut -f1 > $L/size_before
$V/bin/pip freeze > $L/freeze_before
if [ "$con" = yes ]; then C="-c /work/main/requirements.lock"; elif [ "$con" = no ]; then C=""; else C="-c $con"; fi
start=$(date +%s.%N)
timeout 600 /usr/bin/time -v -o $L/time.txt nice -n 19 $V/bin/pip install $C $pkg > $L/install.log 2>&1
rc=$?
end=$(date +%s.%N)
echo "install rc=$rc wall=$(echo "$end - $start" | bc)" >> $L/summary.txt
du -sm $SP | cut -f1 > $L/size_after
$V/bin/pip freeze > $L/freeze_after
cat $L/summary.txt
